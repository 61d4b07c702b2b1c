using System.Buffers;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// The pipeline's learned-values step, after a format's rewriter: remember what the message revealed (by name in
/// JSON, by the log grammar in text), then scrub every output of every value the site has revealed so far, in the
/// forms that output's format writes. One per <see cref="Minimizer"/> (one thread); allocates nothing unless a value is
/// new or an output holds one.
/// </summary>
internal sealed class LearnedValueStep : IDisposable
{
    // Streams that may carry Wi-Fi values or contact data under names; the messages of others (firmware versions, say)
    // are not read twice.
    private const DataCategory LearnedCategories = DataCategory.Network | DataCategory.Owner | DataCategory.Account | DataCategory.Settings;

    private readonly LearnedSecrets _store;
    private readonly PooledBufferWriter[] _scrubbed;

    public LearnedValueStep(LearnedSecrets store, int maxOutputs)
    {
        Store = store;
        _store = store;
        _scrubbed = new PooledBufferWriter[maxOutputs];
        for (var i = 0; i < maxOutputs; i++)
        {
            _scrubbed[i] = new PooledBufferWriter(256);
        }
    }

    public LearnedSecrets Store { get; }

    /// <summary>Remembers what <paramref name="payload"/> of <paramref name="stream"/> revealed for <paramref name="device"/> (empty: a streamed body).</summary>
    public void Learn(CompiledStream stream, IPayloadMinimizer rewriter, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth) =>
        rewriter.ShareLearned(_store, device, payload, maxDepth, byName: (stream.Categories & LearnedCategories) != 0);

    /// <summary>
    /// <paramref name="output"/> (output slot <paramref name="slot"/>) with every learned value replaced by its class
    /// marker, and how many were; the output itself when none was (<see cref="IPayloadMinimizer.ScrubLearned"/>).
    /// </summary>
    public ReadOnlyMemory<byte> Scrub(int slot, IPayloadMinimizer rewriter, ReadOnlyMemory<byte> output, out int replaced)
    {
        replaced = 0;
        var values = _store.Current;
        if (values.Count == 0)
        {
            return output;
        }

        var writer = _scrubbed[slot];
        writer.Reset();
        replaced = rewriter.ScrubLearned(slot, values, writer);
        return replaced == 0 ? output : writer.WrittenMemory;
    }

    public void Dispose()
    {
        foreach (var writer in _scrubbed)
        {
            writer.Dispose();
        }
    }
}
