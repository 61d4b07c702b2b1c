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
    /// names and secrets, contact data), for <paramref name="device"/>. Formats whose values are learned by name
    /// (JSON) are learned by the pipeline; a rewriter that finds values by its own grammar (text logs) shares them here.
    /// </summary>
    void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device)
    {
    }

    /// <summary>
    /// Gives a rewriter that removes learned values as it writes (the log scrubber: one pass instead of two) the site's
    /// values; the pipeline then does not scrub its outputs again. Called once, before the first message.
    /// </summary>
    void UseLearned(Learning.LearnedSecrets store)
    {
    }

    /// <summary>True when this rewriter's outputs are already free of the values given by <see cref="UseLearned"/>.</summary>
    bool RemovesLearned => false;
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
