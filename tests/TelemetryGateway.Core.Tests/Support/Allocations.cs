namespace TelemetryGateway.Core.Tests.Support;

/// <summary>
/// Measures what a piece of work allocates on the current thread once warm. Allocation counts are deterministic for a
/// thread, so they are asserted exactly, unlike time.
/// </summary>
internal static class Allocations
{
    /// <summary>
    /// Bytes allocated by <paramref name="rounds"/> calls of <paramref name="work"/> after warm-up: the fewest over up to
    /// ten windows. The runtime itself may allocate on this thread now and then (tiered JIT promotion, late under load);
    /// an allocation of the work itself shows in every window, so a single window without a byte proves the steady state.
    /// </summary>
    public static long SteadyState(Action work, int rounds = 20, int warmUpRounds = 3)
    {
        for (var i = 0; i < warmUpRounds; i++)
        {
            work();
        }
        var fewest = long.MaxValue;
        for (var window = 0; window < 10 && fewest != 0; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < rounds; i++)
            {
                work();
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}
