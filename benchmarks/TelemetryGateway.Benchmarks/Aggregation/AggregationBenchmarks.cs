using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Benchmarks.Aggregation;

/// <summary>
/// What aggregate entries add to the engine per message (issue 18, target ≤ 10%): a fleet of 1,000 devices' status
/// messages (the corpus status message under 1,000 serials), minimized under the shipped policy as it is (two
/// aggregate entries on the status stream: each message is also folded into two windows) and under the same policy
/// without them. Steady state: every device and group is already in its window.
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

    [GlobalSetup]
    public void Setup()
    {
        var message = CorpusMessages.Representative(TelemetryKind.Status);
        var serial = message.Topic.Split('/')[3];
        var text = Encoding.UTF8.GetString(message.Payload);
        _topics = [.. Enumerable.Range(0, Devices).Select(d => message.Topic.Replace(serial, $"BENCH{d:D11}", StringComparison.Ordinal))];
        _payloads = [.. Enumerable.Range(0, Devices).Select(d => new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text.Replace(serial, $"BENCH{d:D11}", StringComparison.Ordinal))))];
        var key = BenchmarkAssets.Key();
        var withAggregates = BenchmarkAssets.Policy();
        if (!withAggregates.Streams.Any(s => s.Purposes.Any(p => p.Aggregate is not null)))
        {
            throw new InvalidOperationException("the shipped policy has no aggregate entry to measure");
        }
        _with = new Minimizer(withAggregates, key);
        _without = new Minimizer(ShippedPolicyWithoutAggregates(), key);
        for (var d = 0; d < Devices; d++)
        {
            _with.Minimize(_topics[d], _payloads[d]);
            _without.Minimize(_topics[d], _payloads[d]);
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

    /// <summary>The shipped policy with its aggregate entries left out.</summary>
    private static CompiledPolicy ShippedPolicyWithoutAggregates()
    {
        var path = BenchmarkAssets.Find("policies", "solix-default.json");
        var root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
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
