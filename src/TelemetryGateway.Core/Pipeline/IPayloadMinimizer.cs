using System.Buffers;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// The rewriter of one <see cref="PayloadFormat"/>: parses a message once and writes one minimized output per purpose
/// into buffers of its own. One instance per thread, reused for every message of its format; the outputs stay valid
/// until its next <see cref="Minimize"/>. Steady state allocates nothing.
/// </summary>
internal interface IPayloadMinimizer : IDisposable
{
    /// <summary>
    /// Minimizes <paramref name="payload"/> for each of <paramref name="purposes"/> (output slot i is purposes[i]).
    /// <paramref name="device"/> is the device's id from the topic (may be empty). Returns the reason the whole
    /// message is quarantined, or <see cref="QuarantineReason.None"/>.
    /// </summary>
    QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload);

    /// <summary>
    /// False when the message has nothing this purpose may receive although it is well formed (e.g. a message type the
    /// purpose's rules do not know): nothing is forwarded for it, and it is counted as withheld.
    /// </summary>
    bool HasOutput(int slot);

    /// <summary>The minimized payload of output slot <paramref name="slot"/>.</summary>
    ReadOnlyMemory<byte> Output(int slot);

    /// <summary>Adds what was done for output slot <paramref name="slot"/> to a purpose's counter shard.</summary>
    void CommitCounts(int slot, long[] shard);

    /// <summary>
    /// Remembers in <paramref name="store"/> the values the last message revealed that must never be sent (Wi-Fi
    /// names and secrets, MACs, contact data), for <paramref name="device"/>: by the names that carry them (JSON
    /// members, protobuf fields) when <paramref name="byName"/> (the stream's categories say it may carry them), by its
    /// own grammar (text logs) or field kinds (SOLIX) otherwise. <paramref name="payload"/> is the message
    /// <see cref="Minimize"/> took, or empty for a body minimized block by block.
    /// </summary>
    void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth, bool byName)
    {
    }

    /// <summary>
    /// Gives a rewriter that removes learned values as it writes (the log scrubber: one pass instead of two) the site's
    /// values. Called once, before the first message.
    /// </summary>
    void UseLearned(Learning.LearnedSecrets store)
    {
    }

    /// <summary>
    /// Writes output slot <paramref name="slot"/> to <paramref name="output"/> with every value of
    /// <paramref name="values"/> replaced by its class marker, where this format holds text (JSON strings, protobuf
    /// string fields), keeping the output well formed; returns how many were replaced. Writes nothing and returns 0
    /// when none was, or when the format holds no text a value could be in (images), or when the rewriter already
    /// removed them as it wrote (<see cref="UseLearned"/>).
    /// </summary>
    int ScrubLearned(int slot, Learning.LearnedSecretSet values, IBufferWriter<byte> output) => 0;

    /// <summary>
    /// Reads the aggregate fields of the message <see cref="Minimize"/> took last (and did not quarantine) into
    /// <paramref name="scan"/>: once per message for every aggregate entry of its stream, reusing what the rewrite
    /// parsed where the format allows. False when the message cannot be read so (it is then folded into no window);
    /// formats whose policy compiler does not read aggregates never get here.
    /// </summary>
    bool ReadAggregateFields(Aggregation.AggregateFieldSet fields, in ReadOnlySequence<byte> payload, int maxDepth, Aggregation.AggregateScan scan) => false;

    /// <summary>
    /// Asks the next <see cref="Minimize"/> to read <paramref name="fields"/> into <paramref name="scan"/> (already begun)
    /// as it parses, where the format can do so in the same pass; <see cref="ReadAggregateFields"/> then has nothing
    /// left to read. The others read them in <see cref="ReadAggregateFields"/> from what the rewrite parsed.
    /// </summary>
    void ReadAggregateFieldsDuringMinimize(Aggregation.AggregateFieldSet fields, Aggregation.AggregateScan scan)
    {
    }
}

/// <summary>
/// A rewriter that can also minimize one payload for one purpose block by block as it arrives (a log or a photo
/// uploaded over HTTP, of any size): the input is consumed whole at each call (an incomplete unit, such as a line,
/// is kept internally) and what may be forwarded is written at once. The rewrite is the one
/// <see cref="IPayloadMinimizer.Minimize"/> does, so records and outputs agree whichever way the payload came.
/// </summary>
internal interface IStreamingPayloadMinimizer
{
    /// <summary>Starts a payload of <paramref name="device"/> (may be empty) for <paramref name="purpose"/>.</summary>
    void BeginStream(StreamPurpose purpose, ReadOnlySpan<char> device);

    /// <summary>Minimizes the next block; with <paramref name="isFinalBlock"/>, the payload must be complete.</summary>
    QuarantineReason ProcessStream(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output);

    /// <summary>Adds what was done to the payload so far to a purpose's counter shard.</summary>
    void CommitStreamCounts(long[] shard);
}
