using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// The <c>redact-text</c> transform: scrubs free UTF-8 text (log lines, notes, error messages) of secrets,
/// Wi-Fi names, e-mail addresses, phone numbers and MAC addresses, truncates IP addresses and coarsens
/// coordinates, and copies everything else byte for byte so the text stays readable.
/// </summary>
/// <remarks>
/// The rules are those of the log scrubber (<see cref="TextScrubber"/>, one implementation of them), with the
/// default prefix lengths and decimals, writing into a fixed destination.
/// </remarks>
internal static class TextRedaction
{
    /// <summary>
    /// Scrubs UTF-8 text <paramref name="value"/> into <paramref name="destination"/>.
    /// A destination of <see cref="MaxOutputLength"/>(value.Length) bytes always suffices.
    /// </summary>
    /// <returns>False only if <paramref name="destination"/> is too small; <paramref name="written"/> is then 0.</returns>
    public static bool TryRedact(ReadOnlySpan<byte> value, Span<byte> destination, out int written)
    {
        var scrubber = new TextScrubber(destination, IpTruncation.DefaultIpv4PrefixLength, IpTruncation.DefaultIpv6PrefixLength, CoordinateCoarsening.DefaultDecimals);
        scrubber.Scrub(value);
        written = scrubber.Overflowed ? 0 : scrubber.Written;
        return !scrubber.Overflowed;
    }

    /// <summary>
    /// Destination size that always suffices for an input of <paramref name="inputLength"/> bytes.
    /// </summary>
    /// <remarks>
    /// Copied bytes map 1:1, and every replaced unit of L input bytes writes at most 3L bytes:
    /// a secret unit is at least "key=x" (L ≥ 5) and writes at most L - 1 + 8 ≤ 3L; an SSID unit is at least
    /// "ssid=x" (L ≥ 6) and writes at most L - 1 + 6; e-mail (L ≥ 6 → 7), phone (L ≥ 7 → 7) and MAC (L ≥ 12 → 5)
    /// need no more. A truncated IP or coarsened number is written only if it fits in 3 × the text it replaces,
    /// otherwise "[ip]" (address ≥ 2 bytes) or "[coord]" (after a marker of ≥ 4 bytes, or a pair number of
    /// ≥ 5 bytes) is written, both within 3L. Twice the input is not enough: "psk=x," repeated grows 6 → 13 bytes.
    /// </remarks>
    public static int MaxOutputLength(int inputLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inputLength, int.MaxValue / TextScrubber.ExpansionFactor);
        return inputLength * TextScrubber.ExpansionFactor;
    }
}
