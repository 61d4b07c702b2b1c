using System.Buffers;
using System.Runtime.InteropServices;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// The engine's entry point for one message, the pipeline's steps in order: classify the topic into a stream (matched
/// once; <see cref="Classify"/> alone lets a security check decide on the same match), gate each purpose
/// (<see cref="IPurposeGate"/> list: consent, objection, restriction), minimize with the stream format's rewriter once per purpose left,
/// render each output topic; every output carries its purpose's compiled <see cref="OutputTags"/>, and each step counts
/// into the purpose's records of processing. One instance per thread; the results point into its reused buffers and
/// stay valid until its next call.
/// </summary>
public sealed class Minimizer : IDisposable
{
    // Devices publish on the same topics again and again, so the match and the rendered output topics of recent
    // topics are kept: a direct-mapped cache, each slot reused in place. Longer topics are rare and not kept.
    private const int RouteSlotBits = 6;
    private const int RouteSlots = 1 << RouteSlotBits;
    private const int MaxRoutedTopicLength = 256;

    private readonly CompiledPolicy _policy;
    // The pipeline's gate step, in order; an array so that the per-message loop does not box an enumerator.
    private readonly IPurposeGate[] _gates;
    private readonly Pseudonymizer _pseudonymizer;
    // One rewriter per payload format the policy uses, indexed by format; made on first use.
    private readonly IPayloadMinimizer?[] _rewriters = new IPayloadMinimizer?[Enum.GetValues<PayloadFormat>().Length];
    private readonly StreamPurpose[] _purposes;
    private readonly int[] _purposeIndexes;
    private readonly MinimizedOutput[] _outputs;
    private readonly TopicRoute?[] _routes = new TopicRoute?[RouteSlots];
    private readonly TopicRoute _longTopicRoute;
    private readonly long[]?[] _shards;
    private readonly ScratchBuffer _topicScratch = new(256);

    /// <summary>A minimizer whose only gate is consent (none on record when <paramref name="consent"/> is null).</summary>
    public Minimizer(CompiledPolicy policy, PseudonymizationKey key, IConsentRegistry? consent = null)
        : this(policy, key, [new ConsentGate(consent ?? NoConsentRecorded.Instance)])
    {
    }

    /// <summary>A minimizer whose purposes pass <paramref name="gates"/>, in order, before anything is minimized for them.</summary>
    public Minimizer(CompiledPolicy policy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(gates);
        _policy = policy;
        _gates = [.. gates];
        _pseudonymizer = new Pseudonymizer(key);
        _purposes = new StreamPurpose[policy.MaxPurposesPerStream];
        _purposeIndexes = new int[policy.MaxPurposesPerStream];
        _outputs = new MinimizedOutput[policy.MaxPurposesPerStream];
        _longTopicRoute = new TopicRoute(policy);
        _shards = new long[policy.PurposeCount][];
    }

    public CompiledPolicy Policy => _policy;

    /// <summary>The type name of the exception behind the last <c>processing-fault</c> (for the log; never the payload).</summary>
    public string? LastFault { get; private set; }

    /// <summary>
    /// The classify step alone: the stream of <paramref name="topic"/>, or null when no stream matches. The match is
    /// kept, so a <see cref="Minimize"/> of the same topic next (after a security check, say) does not match again.
    /// </summary>
    public CompiledStream? Classify(ReadOnlySpan<char> topic) => Route(topic).Stream;

    /// <summary>Minimizes one message. The returned outputs are valid until the next call on this instance.</summary>
    public MinimizationResult Minimize(ReadOnlySpan<char> topic, in ReadOnlySequence<byte> payload)
    {
        var route = Route(topic);
        var stream = route.Stream;
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
        var deviceRange = stream.DeviceCapture >= 0 ? route.Captures[stream.DeviceCapture] : default;
        var device = topic[deviceRange];
        var active = 0;
        var streamPurposes = stream.PurposeArray;
        for (var p = 0; p < streamPurposes.Length; p++)
        {
            var purpose = streamPurposes[p];
            if (Refusal(purpose, device) is var refusal && refusal >= 0)
            {
                Shard(purpose)[refusal]++;
                continue;
            }
            _purposeIndexes[active] = p;
            _purposes[active++] = purpose;
        }
        var purposes = _purposes.AsSpan(0, active);
        var rewriter = Rewriter(stream.Format);
        QuarantineReason reason;
        try
        {
            reason = rewriter.Minimize(purposes, device, payload);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of the engine on some input must not take the ingress down, and must not let the message through.
            reason = QuarantineReason.ProcessingFault;
            LastFault = e.GetType().Name;
        }
        if (reason != QuarantineReason.None)
        {
            return MinimizationResult.Quarantine(stream, reason);
        }
        var outputs = 0;
        for (var i = 0; i < active; i++)
        {
            var purpose = purposes[i];
            var shard = Shard(purpose);
            if (!rewriter.HasOutput(i))
            {
                shard[(int)ProcessingAction.Withheld]++;
                continue;
            }
            _outputs[outputs++] = new MinimizedOutput(purpose, route.OutputTopic(_purposeIndexes[i]), rewriter.Output(i));
            rewriter.CommitCounts(i, shard);
            shard[(int)ProcessingAction.Forwarded]++;
        }
        return MinimizationResult.Forwarded(stream, _outputs.AsMemory(0, outputs), deviceRange);
    }

    /// <summary>The counter index of the first gate that refuses <paramref name="purpose"/> for <paramref name="device"/>; -1 when all allow it.</summary>
    private int Refusal(StreamPurpose purpose, ReadOnlySpan<char> device)
    {
        foreach (var gate in _gates)
        {
            if (!gate.Allows(purpose, device))
            {
                return (int)gate.RefusalAction;
            }
        }
        return -1;
    }

    /// <summary>The rewriter of <paramref name="format"/>, made on first use: a policy pays only for the formats it uses.</summary>
    private IPayloadMinimizer Rewriter(PayloadFormat format) => _rewriters[(int)format] ??= PayloadFormats.Of(format).CreateMinimizer(_pseudonymizer, _policy);

    /// <summary>This minimizer's own counter shard for <paramref name="purpose"/>, made on first use.</summary>
    private long[] Shard(StreamPurpose purpose) => _shards[purpose.Index] ??= purpose.Counters.NewShard();

    /// <summary>The route of <paramref name="topic"/>: a kept one when it was seen recently, else one filled now.</summary>
    private TopicRoute Route(ReadOnlySpan<char> topic)
    {
        if (topic.Length > MaxRoutedTopicLength)
        {
            // Long topics are rare: one route of their own, holding only the last one (a classify and the minimize after it).
            if (!_longTopicRoute.Holds(topic))
            {
                _longTopicRoute.Fill(topic, _pseudonymizer, _topicScratch);
            }
            return _longTopicRoute;
        }
        ref var slot = ref _routes[SlotOf(topic)];
        slot ??= new TopicRoute(_policy);
        if (!slot.Holds(topic))
        {
            slot.Fill(topic, _pseudonymizer, _topicScratch);
        }
        return slot;
    }

    /// <summary>
    /// The route slot of a topic: a multiplicative hash of all of it, eight bytes at a time. A slot only needs to spread
    /// topics (a route compares the whole topic before it is used), so this need not resist crafted collisions.
    /// </summary>
    private static int SlotOf(ReadOnlySpan<char> topic)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15;
        var hash = (ulong)topic.Length;
        var words = MemoryMarshal.Cast<char, ulong>(topic);
        foreach (var word in words)
        {
            hash = (hash ^ word) * Multiplier;
        }
        for (var i = words.Length * (sizeof(ulong) / sizeof(char)); i < topic.Length; i++)
        {
            hash = (hash ^ topic[i]) * Multiplier;
        }
        // The high bits of a multiplicative hash are the well-mixed ones.
        return (int)(hash >> (64 - RouteSlotBits));
    }

    public void Dispose()
    {
        foreach (var rewriter in _rewriters)
        {
            rewriter?.Dispose();
        }
        _pseudonymizer.Dispose();
        _topicScratch.Dispose();
        _longTopicRoute.Dispose();
        foreach (var route in _routes)
        {
            route?.Dispose();
        }
    }

    /// <summary>
    /// What a topic means under the policy: its stream (null when none matches), its captures and the output topic of
    /// each of the stream's purposes. Depends only on the topic, the policy and the key, all fixed for this instance.
    /// </summary>
    private sealed class TopicRoute : IDisposable
    {
        private readonly CompiledPolicy _policy;
        private readonly PooledBufferWriter[] _outputTopics;
        private char[] _topic = [];
        private int _topicLength = -1;

        public TopicRoute(CompiledPolicy policy)
        {
            _policy = policy;
            Captures = new Range[Math.Max(1, policy.MaxCaptures)];
            _outputTopics = new PooledBufferWriter[policy.MaxPurposesPerStream];
            for (var i = 0; i < _outputTopics.Length; i++)
            {
                _outputTopics[i] = new PooledBufferWriter(128);
            }
        }

        public CompiledStream? Stream { get; private set; }
        public Range[] Captures { get; }

        /// <summary>The UTF-8 output topic of the stream's purpose at <paramref name="purposeIndex"/>.</summary>
        public ReadOnlyMemory<byte> OutputTopic(int purposeIndex) => _outputTopics[purposeIndex].WrittenMemory;

        public bool Holds(ReadOnlySpan<char> topic) => _topicLength == topic.Length && _topic.AsSpan(0, _topicLength).SequenceEqual(topic);

        /// <summary>Matches and renders <paramref name="topic"/>, and remembers it for <see cref="Holds"/>.</summary>
        public void Fill(ReadOnlySpan<char> topic, Pseudonymizer pseudonymizer, ScratchBuffer scratch)
        {
            // Invalid until complete, so an exception half-way cannot leave a wrong route behind.
            _topicLength = -1;
            Stream = _policy.Match(topic, Captures);
            if (Stream is not null)
            {
                var purposes = Stream.PurposeArray;
                for (var i = 0; i < purposes.Length; i++)
                {
                    var outputTopic = purposes[i].Topic;
                    var writer = _outputTopics[i];
                    writer.Reset();
                    var span = writer.GetSpan(outputTopic.MaxLength(topic.Length, pseudonymizer.Length));
                    writer.Advance(outputTopic.Render(topic, Captures, pseudonymizer, span, scratch.Get(topic.Length * 3)));
                }
            }
            if (_topic.Length < topic.Length)
            {
                _topic = new char[Math.Max(topic.Length, 64)];
            }
            topic.CopyTo(_topic);
            _topicLength = topic.Length;
        }

        public void Dispose()
        {
            foreach (var writer in _outputTopics)
            {
                writer.Dispose();
            }
        }
    }
}

/// <summary>One output: the tags of its purpose, the UTF-8 output topic and the minimized payload.</summary>
public readonly record struct MinimizedOutput(StreamPurpose Tags, ReadOnlyMemory<byte> Topic, ReadOnlyMemory<byte> Payload);

/// <summary>What became of a message: not matched (not forwarded), quarantined, or minimized into outputs.</summary>
public readonly struct MinimizationResult
{
    private MinimizationResult(CompiledStream? stream, QuarantineReason reason, ReadOnlyMemory<MinimizedOutput> outputs, Range device = default)
    {
        Stream = stream;
        QuarantineReason = reason;
        Outputs = outputs;
        Device = device;
    }

    public static MinimizationResult NoMatch => default;

    /// <summary>The matched stream; null when no stream of the policy matches the topic.</summary>
    public CompiledStream? Stream { get; }

    public QuarantineReason QuarantineReason { get; }
    public ReadOnlyMemory<MinimizedOutput> Outputs { get; }

    /// <summary>Where the stream's device capture is in the topic (empty when the stream has none): whose outputs these are.</summary>
    public Range Device { get; }
    public bool IsMatched => Stream is not null;
    public bool IsQuarantined => QuarantineReason != QuarantineReason.None;

    internal static MinimizationResult Quarantine(CompiledStream stream, QuarantineReason reason) => new(stream, reason, default);

    internal static MinimizationResult Forwarded(CompiledStream stream, ReadOnlyMemory<MinimizedOutput> outputs, Range device) => new(stream, QuarantineReason.None, outputs, device);
}
