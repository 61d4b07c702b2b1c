using System.Buffers;
using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Benchmarks.Corpus;

/// <summary>The kinds of SOLIX device telemetry the benchmarks minimize; each is one stream of the shipped policy.</summary>
public enum TelemetryKind
{
    Status,
    Firmware,
    Network,
}

/// <summary>One corpus message: its id, the MQTT topic it arrived on and its UTF-8 JSON payload.</summary>
public sealed record CorpusMessage(string Id, string Topic, byte[] Payload)
{
    /// <summary>The payload as one segment, the shape the broker client hands to the engine.</summary>
    public ReadOnlySequence<byte> PayloadSequence => new(Payload);
}

/// <summary>
/// The test corpus (<c>testdata/messages.ndjson</c>, copied next to the binary): well-formed status, firmware and
/// network messages, grouped by kind. The deliberately broken <c>-bad-</c> messages are left out: they measure
/// the quarantine path, not minimization.
/// </summary>
public static class CorpusMessages
{
    private static readonly Lazy<Dictionary<TelemetryKind, IReadOnlyList<CorpusMessage>>> s_byKind = new(Load);

    public static IReadOnlyList<CorpusMessage> Of(TelemetryKind kind) => s_byKind.Value[kind];

    /// <summary>The first corpus message of <paramref name="kind"/>: one fixed input so runs compare.</summary>
    public static CorpusMessage Representative(TelemetryKind kind) => Of(kind)[0];

    private static Dictionary<TelemetryKind, IReadOnlyList<CorpusMessage>> Load()
    {
        var byKind = Enum.GetValues<TelemetryKind>().ToDictionary(kind => kind, _ => new List<CorpusMessage>());
        foreach (var line in File.ReadLines(BenchmarkAssets.Find("testdata", "messages.ndjson")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var id = root.GetProperty("id").GetString()!;
            if (id.Contains("-bad-", StringComparison.Ordinal) || KindOf(id) is not { } kind)
            {
                continue;
            }
            var payload = Encoding.UTF8.GetBytes(root.GetProperty("payloadText").GetString()!);
            byKind[kind].Add(new CorpusMessage(id, root.GetProperty("topic").GetString()!, payload));
        }
        foreach (var (kind, messages) in byKind)
        {
            if (messages.Count == 0)
            {
                throw new InvalidOperationException($"The corpus has no {kind} message.");
            }
        }
        return byKind.ToDictionary(pair => pair.Key, pair => (IReadOnlyList<CorpusMessage>)pair.Value);
    }

    private static TelemetryKind? KindOf(string id) =>
        id.Contains("-status", StringComparison.Ordinal) ? TelemetryKind.Status
        : id.Contains("-firmware", StringComparison.Ordinal) ? TelemetryKind.Firmware
        : id.Contains("-network", StringComparison.Ordinal) ? TelemetryKind.Network
        : null;
}
