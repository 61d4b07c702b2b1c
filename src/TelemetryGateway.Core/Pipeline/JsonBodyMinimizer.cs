using System.Buffers;
using TelemetryGateway.Core.Json;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// The engine's entry point for a JSON body that arrives over HTTP: the caller already knows the stream and the one
/// purpose it is for (from the route), so there is no topic to classify and exactly one output.
/// </summary>
/// <remarks>
/// The rewrite is the one MQTT messages get (<see cref="JsonMinimizer"/>); its output is complete only at the end of
/// the body, so the caller presents the whole body (bounded by its route's limit). One instance per thread; the
/// output points into reused buffers and stays valid until the next call.
/// </remarks>
public sealed class JsonBodyMinimizer : IDisposable
{
    private readonly CompiledPolicy _policy;
    private readonly Pseudonymizer _pseudonymizer;
    private readonly JsonMinimizer _json;
    private readonly StreamPurpose[] _purpose = new StreamPurpose[1];
    private readonly long[] _tally = new long[ProcessingCounters.ActionCount];

    public JsonBodyMinimizer(CompiledPolicy policy, PseudonymizationKey key)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(key);
        _policy = policy;
        _pseudonymizer = new Pseudonymizer(key);
        _json = new JsonMinimizer(_pseudonymizer, 1, policy.Limits.MaxDepth);
    }

    /// <summary>
    /// Minimizes <paramref name="body"/> for <paramref name="purpose"/> (a purpose of this instance's policy).
    /// <paramref name="output"/> is valid until the next call; <paramref name="tally"/> is what the rewrite did, for the
    /// caller to record (<see cref="BodyRecords"/>) once the body was actually forwarded.
    /// </summary>
    public QuarantineReason Minimize(StreamPurpose purpose, in ReadOnlySequence<byte> body, out ReadOnlyMemory<byte> output, out ProcessingTally tally)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        output = default;
        tally = default;
        if (body.IsEmpty)
        {
            return QuarantineReason.Empty;
        }
        _purpose[0] = purpose;
        _json.Begin(_purpose, _policy.Limits.MaxDepth);
        QuarantineReason reason;
        try
        {
            reason = _json.Process(body, isFinalBlock: true, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of the engine on some input must not take the ingress down, and must not let the body through.
            reason = QuarantineReason.ProcessingFault;
        }
        if (reason != QuarantineReason.None)
        {
            return reason;
        }
        Array.Clear(_tally);
        _json.CommitCounts(0, _tally);
        tally = ProcessingTally.FromShard(_tally);
        output = _json.Output(0);
        return QuarantineReason.None;
    }

    public void Dispose()
    {
        _json.Dispose();
        _pseudonymizer.Dispose();
    }
}
