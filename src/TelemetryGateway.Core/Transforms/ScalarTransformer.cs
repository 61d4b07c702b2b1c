using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// The scalar transforms of the policy in one place, shared by every format's rewriter (JSON values, protobuf string
/// fields): a new scalar transform is added here and to <see cref="TransformKind"/>, not to each rewriter. Results go
/// into this instance's scratch buffer and stay valid until its next call. One instance per rewriter (per thread);
/// after warm-up it allocates nothing.
/// </summary>
internal sealed class ScalarTransformer(Pseudonymizer pseudonymizer) : IDisposable
{
    private readonly RecentIpTruncations _ipTruncations = new();
    private readonly ScratchBuffer _transformed = new(1024);

    /// <summary>The records-of-processing action a successful <paramref name="transform"/> counts.</summary>
    public static ProcessingAction ActionOf(TransformKind transform) => transform switch
    {
        TransformKind.Pseudonymize or TransformKind.PseudonymizeSameLength => ProcessingAction.Hashed,
        TransformKind.RedactText => ProcessingAction.Redacted,
        _ => ProcessingAction.Coarsened,
    };

    /// <summary>
    /// Applies <paramref name="transform"/> to a UTF-8 text value (a JSON string, a protobuf string field); false when the
    /// value is not one the transform takes (it is then dropped by the caller, never passed on as it is).
    /// </summary>
    public bool TryTransformText(TransformKind transform, TransformParameters parameters, ReadOnlySpan<byte> value, out ReadOnlySpan<byte> result)
    {
        var written = 0;
        var ok = false;
        switch (transform)
        {
            case TransformKind.Pseudonymize:
                written = pseudonymizer.Write(value, _transformed.Get(pseudonymizer.Length));
                ok = true;
                break;
            case TransformKind.TruncateIp:
                ok = _ipTruncations.TryTruncate(value, parameters.Ipv4PrefixLength, parameters.Ipv6PrefixLength, _transformed.Get(value.Length + 48), out written);
                break;
            case TransformKind.CoarsenCoordinates:
                ok = CoordinateCoarsening.TryCoarsenPair(value, parameters.Decimals, _transformed.Get(value.Length + 64), out written);
                break;
            case TransformKind.Geohash:
                ok = Geohash.TryGeohash(value, parameters.GeohashLength, _transformed.Get(value.Length + 16), out written);
                break;
            case TransformKind.RedactText:
                ok = TextRedaction.TryRedact(value, _transformed.Get(TextRedaction.MaxOutputLength(value.Length)), out written);
                break;
        }
        result = ok ? _transformed.Slice(written) : default;
        return ok;
    }

    /// <summary>
    /// Applies <paramref name="transform"/> to the text of a number literal (a JSON number): a pseudonym (text) or
    /// coarsened coordinates (<paramref name="resultIsNumber"/>); false for the transforms that take only text.
    /// </summary>
    public bool TryTransformNumber(TransformKind transform, TransformParameters parameters, ReadOnlySpan<byte> value, out ReadOnlySpan<byte> result, out bool resultIsNumber)
    {
        resultIsNumber = false;
        var written = 0;
        var ok = false;
        switch (transform)
        {
            case TransformKind.Pseudonymize:
                written = pseudonymizer.Write(value, _transformed.Get(pseudonymizer.Length));
                ok = true;
                break;
            case TransformKind.CoarsenCoordinates:
                ok = CoordinateCoarsening.TryCoarsenNumber(value, parameters.Decimals, _transformed.Get(value.Length + 32), out written);
                resultIsNumber = true;
                break;
        }
        result = ok ? _transformed.Slice(written) : default;
        return ok;
    }

    public void Dispose() => _transformed.Dispose();
}
