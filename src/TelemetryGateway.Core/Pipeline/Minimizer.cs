using System.Buffers;
using System.Runtime.InteropServices;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;
using TelemetryGateway.Core.Vocabulary;

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
    private readonly StreamPurpose[] _aggregating;
    private readonly int[] _purposeIndexes;
    private readonly MinimizedOutput[] _outputs;
    private readonly TopicRoute?[] _routes = new TopicRoute?[RouteSlots];
    private readonly TopicRoute _longTopicRoute;
    private readonly long[]?[] _shards;
    private readonly ScratchBuffer _topicScratch = new(256);
    private readonly Learning.LearnedValueStep? _learned;
    private Aggregation.AggregateScan? _aggregateScan;

    // The body being minimized (BeginBody .. RecordForwarded): its stream purpose, device and what its rewrite did.
    private readonly StreamPurpose[] _bodyPurpose = new StreamPurpose[1];
    private readonly long[] _bodyCounts = new long[ProcessingCounters.ActionCount];
    private CompiledStream? _bodyStream;
    private char[] _bodyDevice = new char[64];
    private int _bodyDeviceLength;
    private long _bodyBytes;
    private BodyState _bodyState;

    /// <summary>A minimizer whose only gate is consent (none on record when <paramref name="consent"/> is null).</summary>
    public Minimizer(CompiledPolicy policy, PseudonymizationKey key, IConsentRegistry? consent = null)
        : this(policy, key, [new ConsentGate(consent ?? NoConsentRecorded.Instance)])
    {
    }

    /// <summary>
    /// A minimizer whose purposes pass <paramref name="gates"/>, in order, before anything is minimized for them; with
    /// <paramref name="learned"/>, what messages reveal is remembered there and scrubbed from every output.
    /// </summary>
    public Minimizer(CompiledPolicy policy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates, Learning.LearnedSecrets? learned = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(gates);
        _policy = policy;
        _gates = [.. gates];
        _pseudonymizer = new Pseudonymizer(key);
        _purposes = new StreamPurpose[policy.MaxPurposesPerStream];
        _aggregating = new StreamPurpose[policy.MaxPurposesPerStream];
        _purposeIndexes = new int[policy.MaxPurposesPerStream];
        _outputs = new MinimizedOutput[policy.MaxPurposesPerStream];
        _longTopicRoute = new TopicRoute(policy);
        _shards = new long[policy.PurposeCount][];
        _learned = learned is null ? null : new Learning.LearnedValueStep(learned, policy.MaxPurposesPerStream);
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
        var aggregating = 0;
        var streamPurposes = stream.PurposeArray;
        for (var p = 0; p < streamPurposes.Length; p++)
        {
            var purpose = streamPurposes[p];
            if (Refusal(purpose, device) is var refusal && refusal >= 0)
            {
                Shard(purpose)[refusal]++;
                continue;
            }
            if (purpose.Aggregator is not null)
            {
                // An aggregate entry takes the message after the gates, into its window, once the message is known good.
                _aggregating[aggregating++] = purpose;
                continue;
            }
            _purposeIndexes[active] = p;
            _purposes[active++] = purpose;
        }
        var purposes = _purposes.AsSpan(0, active);
        var rewriter = Rewriter(stream.Format);
        Aggregation.AggregateScan? scan = null;
        if (aggregating > 0)
        {
            // One read of the message's aggregate fields (and of its device id) for every aggregate entry of the stream,
            // in the rewrite's own pass where the format allows.
            scan = _aggregateScan ??= new Aggregation.AggregateScan();
            scan.Begin(stream.AggregateFields!, device);
            rewriter.ReadAggregateFieldsDuringMinimize(stream.AggregateFields!, scan);
        }
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
        _learned?.Learn(stream, rewriter, device, payload, _policy.Limits.MaxDepth);
        if (scan is not null)
        {
            var read = rewriter.ReadAggregateFields(stream.AggregateFields!, payload, _policy.Limits.MaxDepth, scan);
            for (var a = 0; a < aggregating; a++)
            {
                var entry = _aggregating[a];
                Shard(entry)[(int)(read && entry.Aggregator!.Fold(entry.Aggregate!, scan, topic, route.Captures)
                    ? ProcessingAction.Aggregated
                    : ProcessingAction.Withheld)]++;
            }
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
            var payloadOut = rewriter.Output(i);
            if (_learned is not null)
            {
                payloadOut = _learned.Scrub(i, rewriter, payloadOut, out var replaced);
                shard[(int)ProcessingAction.Redacted] += replaced;
            }
            _outputs[outputs++] = new MinimizedOutput(purpose, route.OutputTopic(_purposeIndexes[i]), payloadOut);
            rewriter.CommitCounts(i, shard);
            shard[(int)ProcessingAction.Forwarded]++;
        }
        return MinimizationResult.Forwarded(stream, _outputs.AsMemory(0, outputs), deviceRange);
    }

    /// <summary>
    /// The gate step for a body whose stream purpose is known from where it arrived (an HTTP route feeds one stream and
    /// purpose, so there is no topic to classify): the gates decide for <paramref name="device"/> (may be empty).
    /// Returns the refusing gate's action, counted as a topic's refusal is, or null; then <see cref="MinimizeBody"/>
    /// takes the body, and <see cref="RecordForwarded"/> records it once it was forwarded.
    /// </summary>
    public ProcessingAction? BeginBody(CompiledStream stream, StreamPurpose purpose, ReadOnlySpan<char> device)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(purpose);
        if (Array.IndexOf(stream.PurposeArray, purpose) < 0 || !ReferenceEquals(_policy.Streams[stream.Index], stream))
        {
            throw new ArgumentException($"purpose '{purpose.Purpose.Id()}' of stream '{stream.Name}' is not of this minimizer's policy", nameof(purpose));
        }
        if (purpose.Aggregator is not null)
        {
            throw new ArgumentException($"purpose entry '{purpose.Name}' of stream '{stream.Name}' releases aggregates; a body is not folded into them", nameof(purpose));
        }
        _bodyState = BodyState.None;
        if (Refusal(purpose, device) is var refusal && refusal >= 0)
        {
            Shard(purpose)[refusal]++;
            return (ProcessingAction)refusal;
        }
        _bodyStream = stream;
        _bodyPurpose[0] = purpose;
        if (_bodyDevice.Length < device.Length)
        {
            _bodyDevice = new char[device.Length];
        }
        device.CopyTo(_bodyDevice);
        _bodyDeviceLength = device.Length;
        _bodyBytes = 0;
        Array.Clear(_bodyCounts);
        if (Rewriter(stream.Format) is IStreamingPayloadMinimizer streaming)
        {
            streaming.BeginStream(purpose, device);
        }
        _bodyState = BodyState.Minimizing;
        return null;
    }

    /// <summary>
    /// The minimize step for the body begun with <see cref="BeginBody"/>: writes what may be forwarded of
    /// <paramref name="block"/> to <paramref name="output"/>. A format that <see cref="PayloadFormats.Streams"/> takes
    /// the body block by block (any number of calls, the last with <paramref name="isFinalBlock"/>); the others take it
    /// whole, in one final block. Returns the reason the body is quarantined, or <see cref="QuarantineReason.None"/>;
    /// when the purpose may receive nothing of a well-formed body, nothing is written and <see cref="BodyWithheld"/> is
    /// true (counted as withheld).
    /// </summary>
    public QuarantineReason MinimizeBody(in ReadOnlySequence<byte> block, bool isFinalBlock, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_bodyState != BodyState.Minimizing)
        {
            throw new InvalidOperationException("MinimizeBody needs a body begun with BeginBody and not yet finished");
        }
        var stream = _bodyStream!;
        var rewriter = Rewriter(stream.Format);
        var streaming = rewriter as IStreamingPayloadMinimizer;
        if (streaming is null && !isFinalBlock)
        {
            throw new InvalidOperationException($"{stream.Format.Id()} bodies are minimized whole, in one final block");
        }
        _bodyBytes += block.Length;
        if (isFinalBlock && _bodyBytes == 0)
        {
            _bodyState = BodyState.None;
            return QuarantineReason.Empty;
        }
        // A body read whole is held to the policy's bound on a message, as it would be over MQTT; streamed formats (logs,
        // images) are bounded by the route's size limit only, their memory being constant.
        if (streaming is null && _bodyBytes > _policy.Limits.MaxPayloadBytes)
        {
            _bodyState = BodyState.None;
            return QuarantineReason.TooLarge;
        }
        QuarantineReason reason;
        try
        {
            reason = streaming is not null
                ? streaming.ProcessStream(block, isFinalBlock, output)
                : rewriter.Minimize(_bodyPurpose, _bodyDevice.AsSpan(0, _bodyDeviceLength), block);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // As for a message: a fault of the engine must not take the ingress down, nor let the body through.
            reason = QuarantineReason.ProcessingFault;
            LastFault = e.GetType().Name;
        }
        if (reason != QuarantineReason.None)
        {
            _bodyState = BodyState.None;
            return reason;
        }
        if (!isFinalBlock)
        {
            return QuarantineReason.None;
        }
        // The learned-values step, as for a message: remember what the body revealed, and remove what the site revealed
        // (a streamed log's scrubber already did, as it wrote).
        if (_learned is not null)
        {
            var device = _bodyDevice.AsSpan(0, _bodyDeviceLength);
            _learned.Learn(stream, rewriter, device, streaming is null ? block : ReadOnlySequence<byte>.Empty, _policy.Limits.MaxDepth);
        }
        if (streaming is not null)
        {
            streaming.CommitStreamCounts(_bodyCounts);
        }
        else if (rewriter.HasOutput(0))
        {
            var minimized = rewriter.Output(0);
            if (_learned is not null)
            {
                minimized = _learned.Scrub(0, rewriter, minimized, out var replaced);
                _bodyCounts[(int)ProcessingAction.Redacted] += replaced;
            }
            output.Write(minimized.Span);
            rewriter.CommitCounts(0, _bodyCounts);
        }
        else
        {
            Shard(_bodyPurpose[0])[(int)ProcessingAction.Withheld]++;
            _bodyState = BodyState.Withheld;
            return QuarantineReason.None;
        }
        _bodyState = BodyState.Minimized;
        return QuarantineReason.None;
    }

    /// <summary>True when the last body was well formed but had nothing its purpose may receive (nothing to forward).</summary>
    public bool BodyWithheld => _bodyState == BodyState.Withheld;

    /// <summary>
    /// The record step for the body minimized last, once it was forwarded: counted as a message's output is (what its
    /// rewrite did, and one forwarded), so a payload has the same records whichever ingress it came through.
    /// </summary>
    public void RecordForwarded()
    {
        if (_bodyState != BodyState.Minimized)
        {
            throw new InvalidOperationException("RecordForwarded needs a body minimized to its end by MinimizeBody");
        }
        var shard = Shard(_bodyPurpose[0]);
        for (var action = 0; action < shard.Length; action++)
        {
            shard[action] += _bodyCounts[action];
        }
        shard[(int)ProcessingAction.Forwarded]++;
        _bodyState = BodyState.None;
    }

    /// <summary>
    /// Counts an output of <paramref name="purpose"/> that delivery withheld because no configured upstream lies in a
    /// region the purpose may go to (notice §7); called while this minimizer is rented, like its own counts.
    /// </summary>
    public void RecordNoDestination(StreamPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        Shard(purpose)[(int)ProcessingAction.NoDestination]++;
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
    private IPayloadMinimizer Rewriter(PayloadFormat format)
    {
        ref var rewriter = ref _rewriters[(int)format];
        if (rewriter is null)
        {
            rewriter = PayloadFormats.Of(format).CreateMinimizer(_pseudonymizer, _policy);
            if (_learned is not null)
            {
                rewriter.UseLearned(_learned.Store);
            }
        }
        return rewriter;
    }

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
        _learned?.Dispose();
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
                    if (purposes[i].Aggregator is not null)
                    {
                        // An aggregate entry has no per-message output: its topic is rendered per group at release.
                        continue;
                    }
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

/// <summary>Where a <see cref="Minimizer"/> is with a body: begun, minimized to its end, or withheld.</summary>
internal enum BodyState
{
    None,
    Minimizing,
    Minimized,
    Withheld,
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
