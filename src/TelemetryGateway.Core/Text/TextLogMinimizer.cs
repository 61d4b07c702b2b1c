using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The <see cref="PayloadFormat.Text"/> rewriter: a UTF-8 log message scrubbed once per purpose, each with its own
/// <see cref="LogScrubRules"/> (from the purpose's <c>text</c> rules), by a <see cref="LogScrubber"/> per output slot.
/// A log is text, not a structure: one pass per purpose costs no more than a shared parse would.
/// </summary>
internal sealed class TextLogMinimizer : IPayloadMinimizer, IStreamingPayloadMinimizer
{
    // Serials are 16-17 characters; a device id from the topic longer than this is not treated as a serial.
    private const int MaxSerialBytes = 128;

    private readonly LogScrubber[] _scrubbers;
    private readonly SerialHandling[] _serialHandling;
    private readonly PooledBufferWriter[] _outputs;
    private readonly byte[] _serial = new byte[MaxSerialBytes];
    private LearnedSecrets? _site;

    public TextLogMinimizer(Pseudonymizer pseudonymizer, int maxPurposes)
    {
        _scrubbers = new LogScrubber[maxPurposes];
        _serialHandling = new SerialHandling[maxPurposes];
        _outputs = new PooledBufferWriter[maxPurposes];
        for (var i = 0; i < maxPurposes; i++)
        {
            _scrubbers[i] = new LogScrubber(pseudonymizer);
            _outputs[i] = new PooledBufferWriter(1024);
        }
    }

    public QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload)
    {
        var serial = Serial(device);
        for (var i = 0; i < purposes.Length; i++)
        {
            var output = _outputs[i];
            output.Reset();
            var scrubber = _scrubbers[i];
            var rules = RulesOf(purposes[i]);
            _serialHandling[i] = rules.Serial;
            scrubber.Begin(serial, rules, _site?.Current);
            var reason = scrubber.Process(payload, isFinalBlock: true, output);
            if (reason != QuarantineReason.None)
            {
                return reason;
            }
        }
        return QuarantineReason.None;
    }

    /// <summary>A streamed log uses the first slot's scrubber: the same scrub, rules and counts as a whole message.</summary>
    public void BeginStream(StreamPurpose purpose, ReadOnlySpan<char> device)
    {
        var rules = RulesOf(purpose);
        _serialHandling[0] = rules.Serial;
        _scrubbers[0].Begin(Serial(device), rules, _site?.Current);
    }

    public QuarantineReason ProcessStream(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output) =>
        _scrubbers[0].Process(input, isFinalBlock, output);

    public void CommitStreamCounts(long[] shard) => CommitCounts(0, shard);

    /// <summary>The device id as UTF-8, the serial the scrubber looks for; empty when it is too long to be one.</summary>
    private Span<byte> Serial(ReadOnlySpan<char> device)
    {
        var serialLength = Encoding.UTF8.GetByteCount(device) <= _serial.Length ? Encoding.UTF8.GetBytes(device, _serial) : 0;
        return _serial.AsSpan(0, serialLength);
    }

    /// <summary>A log always has an output: what is personal in it is replaced, the rest stays readable.</summary>
    public bool HasOutput(int slot) => true;

    public ReadOnlyMemory<byte> Output(int slot) => _outputs[slot].WrittenMemory;

    public void CommitCounts(int slot, long[] shard) => ProcessingTally.FromLogScrub(_scrubbers[slot].Counts, _serialHandling[slot]).AddTo(shard);

    public void UseLearned(LearnedSecrets store) => _site = store;

    // The scrubbers removed the site's values as they wrote (UseLearned): ScrubLearned keeps its default.
    public void ShareLearned(LearnedSecrets store, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth, bool byName)
    {
        // Every purpose's scrubber read the same log with the same grammar; the first one's values are all of them.
        if (_scrubbers.Length > 0)
        {
            _scrubbers[0].ShareLearned(store, device);
        }
    }

    private static LogScrubRules RulesOf(StreamPurpose purpose) => purpose.RulesOf<LogScrubRules>();

    public void Dispose()
    {
        foreach (var scrubber in _scrubbers)
        {
            scrubber.Dispose();
        }
        foreach (var output in _outputs)
        {
            output.Dispose();
        }
    }
}
