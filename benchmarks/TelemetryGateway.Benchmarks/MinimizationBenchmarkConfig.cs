using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// One short job with allocations reported: 3 warm-up and 10 measured iterations keep the whole run (9 cases)
/// within a few minutes on a 2-core edge box, and are enough for the ratios the targets are stated in.
/// </summary>
public sealed class MinimizationBenchmarkConfig : ManualConfig
{
    public MinimizationBenchmarkConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithId("Short10"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
