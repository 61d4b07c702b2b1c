using System.Buffers;
using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Benchmarks.Logs;

/// <summary>
/// The corpus log text: the <c>payloadText</c> of every log message of <c>testdata/messages.ndjson</c>
/// (topics <c>dt/anker_power/{pn}/{sn}/log</c>), concatenated and repeated to about 64 KiB, and the serial of the
/// first of those devices (the log is scrubbed as one device's log).
/// </summary>
public static class CorpusLogText
{
    public const int TargetLength = 64 * 1024;

    private static readonly Lazy<(byte[] Text, string Serial)> s_text = new(Load);

    public static byte[] Text => s_text.Value.Text;

    public static string Serial => s_text.Value.Serial;

    /// <summary>The text as one segment, or cut into segments of <paramref name="segmentLength"/> bytes.</summary>
    public static ReadOnlySequence<byte> Sequence(int segmentLength)
    {
        var text = Text;
        if (segmentLength >= text.Length)
        {
            return new ReadOnlySequence<byte>(text);
        }

        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < text.Length; offset += segmentLength)
        {
            var segment = new Segment(text.AsMemory(offset, Math.Min(segmentLength, text.Length - offset)), offset);
            if (first is null)
            {
                first = segment;
            }
            else
            {
                last!.Next = segment;
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private static (byte[] Text, string Serial) Load()
    {
        var logs = new List<string>();
        string? serial = null;
        foreach (var line in File.ReadLines(BenchmarkAssets.Find("testdata", "messages.ndjson")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var topic = root.GetProperty("topic").GetString()!;
            if (!topic.EndsWith("/log", StringComparison.Ordinal) || !root.TryGetProperty("payloadText", out var text))
            {
                continue;
            }

            serial ??= topic.Split('/')[3];
            var log = text.GetString()!;
            logs.Add(log.EndsWith('\n') ? log : log + "\n");
        }

        if (logs.Count == 0 || serial is null)
        {
            throw new InvalidOperationException("The corpus has no log message.");
        }

        var builder = new StringBuilder();
        while (builder.Length < TargetLength)
        {
            foreach (var log in logs)
            {
                builder.Append(log);
            }
        }

        return (Encoding.UTF8.GetBytes(builder.ToString()), serial);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public new Segment? Next
        {
            get => (Segment?)base.Next;
            set => base.Next = value;
        }
    }
}
