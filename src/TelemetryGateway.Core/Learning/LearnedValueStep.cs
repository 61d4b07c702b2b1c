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
    // Streams that may carry Wi-Fi values or contact data; the JSON of others (firmware versions, say) is not read twice.
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

    /// <summary>Remembers what <paramref name="payload"/> of <paramref name="stream"/> revealed for <paramref name="device"/>.</summary>
    public void Learn(CompiledStream stream, IPayloadMinimizer rewriter, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth)
    {
        if (stream.Format is PayloadFormat.Json && (stream.Categories & LearnedCategories) != 0)
        {
            JsonLearner.Learn(payload, device, _store, maxDepth);
        }

        rewriter.ShareLearned(_store, device);
    }

    /// <summary>
    /// <paramref name="output"/> (output slot <paramref name="slot"/>) with every learned value replaced by its class
    /// marker, and how many were; the output itself when none was, when its format is binary (protobuf), or when its
    /// rewriter removed them as it wrote (text logs).
    /// </summary>
    public ReadOnlyMemory<byte> Scrub(int slot, IPayloadMinimizer rewriter, PayloadFormat format, ReadOnlyMemory<byte> output, out int replaced)
    {
        replaced = 0;
        var values = _store.Current;
        if (values.Count == 0 || format is PayloadFormat.Protobuf || rewriter.RemovesLearned)
        {
            return output;
        }

        var writer = _scrubbed[slot];
        writer.Reset();
        // JSON and the SOLIX envelope (JSON around a base64 binary) only inside strings, so the document stays valid.
        replaced = values.Scrub(output.Span, writer, jsonStrings: format is not PayloadFormat.Text);
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
