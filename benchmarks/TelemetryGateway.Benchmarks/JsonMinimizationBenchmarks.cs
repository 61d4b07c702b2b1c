using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Minimizing one message of each kind for every purpose of its stream under the shipped policy: the engine against
/// a bare <see cref="Utf8JsonReader"/> scan of the same bytes (the floor: reading the input, writing nothing) and
/// against the same policy written with <see cref="JsonNode"/> (what one would write without the engine).
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet runs a generated subclass of the benchmark class.</remarks>
[Config(typeof(MinimizationBenchmarkConfig))]
[MemoryDiagnoser]
public class JsonMinimizationBenchmarks : IDisposable
{
    private Minimizer? _minimizer;
    private JsonNodeMinimizer? _jsonNodeMinimizer;
    private string _topic = string.Empty;
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _sequence;

    [Params(TelemetryKind.Status, TelemetryKind.Firmware, TelemetryKind.Network)]
    public TelemetryKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var message = CorpusMessages.Representative(Kind);
        _topic = message.Topic;
        _payload = message.Payload;
        _sequence = message.PayloadSequence;
        var policy = BenchmarkAssets.Policy();
        var key = BenchmarkAssets.Key();
        _minimizer = new Minimizer(policy, key);
        _jsonNodeMinimizer = new JsonNodeMinimizer(policy, BenchmarkAssets.KeySecret(), key.Id);
        MinimizationAgreement.Check(message, _minimizer, _jsonNodeMinimizer);
    }

    [Benchmark(Baseline = true)]
    public long BareScan()
    {
        var reader = new Utf8JsonReader(_sequence);
        long checksum = 0;
        while (reader.Read())
        {
            // Touch every value so the scan cannot be reduced to skipping over tokens.
            var value = reader.ValueSpan;
            checksum += (int)reader.TokenType + value.Length + (value.IsEmpty ? 0 : value[0]);
        }
        return checksum;
    }

    [Benchmark]
    public long Engine()
    {
        var result = _minimizer!.Minimize(_topic, _sequence);
        long bytes = 0;
        foreach (var output in result.Outputs.Span)
        {
            bytes += output.Payload.Length;
        }
        return bytes;
    }

    [Benchmark]
    public long JsonNodeBaseline()
    {
        long bytes = 0;
        foreach (var output in _jsonNodeMinimizer!.Minimize(_topic, _payload))
        {
            bytes += output.Payload.Length;
        }
        return bytes;
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    public void Dispose()
    {
        _minimizer?.Dispose();
        _minimizer = null;
        GC.SuppressFinalize(this);
    }
}
