using BenchmarkDotNet.Running;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Runs the benchmarks chosen on the command line (<c>--filter '*'</c> for all), then prints the per-message table
/// (throughput, cost per output, targets) that BenchmarkDotNet's own summary cannot show. <c>log-cpu</c> instead
/// measures the log scrubber per CPU second (see <see cref="Logs.LogScrubberCpuThroughput"/>), <c>minimize-cpu</c> the
/// engine's CPU time per message with and without the site's learned values (see <see cref="MinimizerCpuCost"/>).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["log-cpu"])
        {
            Logs.LogScrubberCpuThroughput.Run();
            return;
        }

        if (args is ["minimize-cpu"])
        {
            MinimizerCpuCost.Run();
            return;
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        foreach (var summary in summaries)
        {
            MinimizationResultsTable.Report(summary);
        }
    }
}
