using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Benchmarks.Aggregation;

/// <summary>
/// What aggregate entries add to the engine per message (issue 18, target ≤ 10%): a fleet of 1,000 devices' messages
/// of one stream (one message under 1,000 serials), minimized under a shipped policy as it is (with its aggregate
/// entries: each message is also read once for them and folded into each entry's window) and under the same policy
/// without them. <see cref="Stream"/>: the JSON status stream of the SOLIX policy (two aggregate entries), its SOLIX
/// param_info stream (0405 status messages of an A17C0, one entry), the protobuf status stream of the protobuf sample
/// policy (one entry). Steady state: every device and group is already in its window.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet runs a generated subclass of the benchmark class.</remarks>
[Config(typeof(MinimizationBenchmarkConfig))]
[MemoryDiagnoser]
public class AggregationBenchmarks : IDisposable
{
    private const int Devices = 1000;
    private Minimizer? _with;
    private Minimizer? _without;
    private string[] _topics = [];
    private ReadOnlySequence<byte>[] _payloads = [];
    private int _next;

    [Params("json", "solix", "protobuf")]
    public string Stream { get; set; } = "json";

    [GlobalSetup]
    public void Setup()
    {
        string policyFile;
        string topic;
        byte[] payload;
        string serial;
        switch (Stream)
        {
            case "json":
                var message = CorpusMessages.Representative(TelemetryKind.Status);
                policyFile = "solix-default.json";
                (topic, payload) = (message.Topic, message.Payload);
                serial = topic.Split('/')[3];
                break;
            case "solix":
                var line = File.ReadLines(BenchmarkAssets.Find("testdata", "solix.ndjson"))
                    .First(l => l.Contains("-solix-0405\"", StringComparison.Ordinal) && l.Contains("A17C0", StringComparison.Ordinal));
                using (var document = JsonDocument.Parse(line))
                {
                    topic = document.RootElement.GetProperty("topic").GetString()!;
                    payload = Encoding.UTF8.GetBytes(document.RootElement.GetProperty("payloadText").GetString()!);
                }
                policyFile = "solix-default.json";
                serial = topic.Split('/')[3];
                break;
            default:
                var status = ProtobufMinimizationBenchmarks.Message("status");
                policyFile = "protobuf-devices.json";
                serial = "WK1DEGZD8PCF32ER";
                topic = $"dt/anker_power/A17C0/{serial}/pb/status";
                payload = status.ToByteArray();
                break;
        }
        // Same-length serials, replaced in the topic and in the payload's text (a binary payload keeps its own).
        var serials = Enumerable.Range(0, Devices).Select(d => $"BENCH{d:D11}").ToArray();
        var text = Encoding.UTF8.GetString(payload);
        _topics = [.. serials.Select(s => topic.Replace(serial, s, StringComparison.Ordinal))];
        _payloads = [.. serials.Select(s => new ReadOnlySequence<byte>(Stream == "protobuf" ? payload : Encoding.UTF8.GetBytes(text.Replace(serial, s, StringComparison.Ordinal))))];
        var key = BenchmarkAssets.Key();
        var path = BenchmarkAssets.Find("policies", policyFile);
        var withAggregates = PolicyCompiler.CompileFile(path);
        var stream = withAggregates.Match(topic, new Range[withAggregates.Streams.Max(s => s.Filter.CaptureNames.Count)])
            ?? throw new InvalidOperationException($"no stream of {policyFile} matches {topic}");
        if (!stream.Purposes.Any(p => p.Aggregate is not null))
        {
            throw new InvalidOperationException($"stream {stream.Name} of {policyFile} has no aggregate entry to measure");
        }
        _with = new Minimizer(withAggregates, key);
        _without = new Minimizer(WithoutAggregates(path), key);
        for (var d = 0; d < Devices; d++)
        {
            _with.Minimize(_topics[d], _payloads[d]);
            _without.Minimize(_topics[d], _payloads[d]);
        }
        var entry = stream.Purposes.First(p => p.Aggregate is not null);
        if (entry.Counters[ProcessingAction.Aggregated] != Devices)
        {
            throw new InvalidOperationException($"{entry.Name} folded {entry.Counters[ProcessingAction.Aggregated]} of {Devices} messages");
        }
    }

    [Benchmark(Baseline = true)]
    public int WithoutAggregates() => Next(_without!);

    [Benchmark]
    public int WithAggregates() => Next(_with!);

    private int Next(Minimizer minimizer)
    {
        var d = _next;
        _next = d + 1 == Devices ? 0 : d + 1;
        return minimizer.Minimize(_topics[d], _payloads[d]).Outputs.Length;
    }

    /// <summary>The policy at <paramref name="path"/> with its aggregate entries left out.</summary>
    private static CompiledPolicy WithoutAggregates(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;
        foreach (var stream in root["streams"]!.AsObject())
        {
            var purposes = stream.Value!["purposes"]!.AsObject();
            foreach (var name in purposes.Where(p => p.Value!["aggregate"] is not null).Select(p => p.Key).ToList())
            {
                purposes.Remove(name);
            }
        }
        return PolicyCompiler.Compile(Encoding.UTF8.GetBytes(root.ToJsonString())).Policy ?? throw new InvalidOperationException("the policy without aggregates does not compile");
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _with?.Dispose();
        _without?.Dispose();
        GC.SuppressFinalize(this);
    }
}
