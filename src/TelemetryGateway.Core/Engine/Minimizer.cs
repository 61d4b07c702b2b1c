using System.Buffers;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Json;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Engine;

/// <summary>
/// The engine's entry point for one message: classify the topic into a stream, decide which purposes apply
/// (consent-based ones only with consent on record), rewrite the payload once per purpose, render each output topic.
/// One instance per thread; the results point into its reused buffers and stay valid until its next call.
/// </summary>
public sealed class Minimizer : IDisposable
{
    private readonly CompiledPolicy _policy;
    private readonly IConsentRegistry _consent;
    private readonly Pseudonymizer _pseudonymizer;
    private readonly JsonMinimizer _json;
    private readonly Range[] _captures;
    private readonly StreamPurpose[] _purposes;
    private readonly MinimizedOutput[] _outputs;
    private readonly PooledBufferWriter[] _topics;
    private readonly ScratchBuffer _topicScratch = new(256);

    public Minimizer(CompiledPolicy policy, PseudonymizationKey key, IConsentRegistry? consent = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(key);
        _policy = policy;
        _consent = consent ?? NoConsentRecorded.Instance;
        _pseudonymizer = new Pseudonymizer(key);
        _json = new JsonMinimizer(_pseudonymizer, policy.MaxPurposesPerStream, policy.Limits.MaxDepth);
        _captures = new Range[Math.Max(1, policy.MaxCaptures)];
        _purposes = new StreamPurpose[policy.MaxPurposesPerStream];
        _outputs = new MinimizedOutput[policy.MaxPurposesPerStream];
        _topics = new PooledBufferWriter[policy.MaxPurposesPerStream];
        for (var i = 0; i < _topics.Length; i++)
        {
            _topics[i] = new PooledBufferWriter(256);
        }
    }

    public CompiledPolicy Policy => _policy;

    /// <summary>Minimizes one message. The returned outputs are valid until the next call on this instance.</summary>
    public MinimizationResult Minimize(ReadOnlySpan<char> topic, in ReadOnlySequence<byte> payload)
    {
        var stream = _policy.Match(topic, _captures);
        if (stream is null)
        {
            return MinimizationResult.NoMatch;
        }
        if (payload.Length > _policy.Limits.MaxPayloadBytes)
        {
            return MinimizationResult.Quarantine(stream, QuarantineReason.TooLarge);
        }
        if (payload.IsEmpty)
        {
            return MinimizationResult.Quarantine(stream, QuarantineReason.Empty);
        }
        var device = stream.DeviceCapture >= 0 ? topic[_captures[stream.DeviceCapture]] : [];
        var active = 0;
        foreach (var purpose in stream.PurposeArray)
        {
            if (purpose.LegalBasis == LegalBasis.Consent && !_consent.HasConsent(purpose.Purpose, device))
            {
                purpose.Counters.Increment(ProcessingAction.NoConsent);
                continue;
            }
            _purposes[active++] = purpose;
        }
        var purposes = _purposes.AsSpan(0, active);
        _json.Begin(purposes, _policy.Limits.MaxDepth);
        var reason = _json.Process(payload, isFinalBlock: true, out _);
        if (reason != QuarantineReason.None)
        {
            return MinimizationResult.Quarantine(stream, reason);
        }
        for (var i = 0; i < active; i++)
        {
            var purpose = purposes[i];
            var topicWriter = _topics[i];
            topicWriter.Reset();
            var span = topicWriter.GetSpan(purpose.Topic.MaxLength(topic.Length, _pseudonymizer.Length));
            var length = purpose.Topic.Render(topic, _captures, _pseudonymizer, span, _topicScratch.Get(topic.Length * 3));
            topicWriter.Advance(length);
            _outputs[i] = new MinimizedOutput(purpose, topicWriter.WrittenMemory, _json.Output(i));
            purpose.Counters.Increment(ProcessingAction.Forwarded);
        }
        return MinimizationResult.Forwarded(stream, _outputs.AsMemory(0, active));
    }

    public void Dispose()
    {
        _json.Dispose();
        _pseudonymizer.Dispose();
        _topicScratch.Dispose();
        foreach (var topic in _topics)
        {
            topic.Dispose();
        }
    }
}

/// <summary>One output: the tags of its purpose, the UTF-8 output topic and the minimized payload.</summary>
public readonly record struct MinimizedOutput(StreamPurpose Tags, ReadOnlyMemory<byte> Topic, ReadOnlyMemory<byte> Payload);

/// <summary>What became of a message: not matched (not forwarded), quarantined, or minimized into outputs.</summary>
public readonly struct MinimizationResult
{
    private MinimizationResult(CompiledStream? stream, QuarantineReason reason, ReadOnlyMemory<MinimizedOutput> outputs)
    {
        Stream = stream;
        QuarantineReason = reason;
        Outputs = outputs;
    }

    public static MinimizationResult NoMatch => default;

    /// <summary>The matched stream; null when no stream of the policy matches the topic.</summary>
    public CompiledStream? Stream { get; }

    public QuarantineReason QuarantineReason { get; }
    public ReadOnlyMemory<MinimizedOutput> Outputs { get; }
    public bool IsMatched => Stream is not null;
    public bool IsQuarantined => QuarantineReason != QuarantineReason.None;

    internal static MinimizationResult Quarantine(CompiledStream stream, QuarantineReason reason) => new(stream, reason, default);

    internal static MinimizationResult Forwarded(CompiledStream stream, ReadOnlyMemory<MinimizedOutput> outputs) => new(stream, QuarantineReason.None, outputs);
}
