using System.Diagnostics;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Times work by the process's CPU time rather than the wall clock, so that a machine shared with other work still shows
/// what one core does (the <c>log-cpu</c> and <c>minimize-cpu</c> verbs): a warm-up round, then the best of several
/// rounds, with the bytes allocated on the running thread per call.
/// </summary>
internal static class CpuTime
{
    /// <summary>The fewest CPU seconds one round of <paramref name="callsPerRound"/> calls took, and the bytes allocated per call.</summary>
    public static (double BestRoundSeconds, double AllocatedPerCall) Measure(int rounds, int callsPerRound, Action call)
    {
        using var process = Process.GetCurrentProcess();
        var best = double.MaxValue;
        var allocated = 0L;
        for (var round = 0; round <= rounds; round++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < callsPerRound; i++)
            {
                call();
            }

            process.Refresh();
            if (round > 0)
            {
                // Round 0 warms up.
                best = Math.Min(best, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
                allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            }
        }

        return (best, allocated / (double)(rounds * callsPerRound));
    }
}
