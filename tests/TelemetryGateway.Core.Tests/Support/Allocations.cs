namespace TelemetryGateway.Core.Tests.Support;

/// <summary>
/// Measures what a piece of work allocates on the current thread once warm. Allocation counts are deterministic for a
/// thread, so they are asserted exactly, unlike time.
/// </summary>
internal static class Allocations
{
    private const int MaxWindows = 50;

    /// <summary>
    /// Bytes allocated by <paramref name="rounds"/> calls of <paramref name="work"/> after warm-up, in a window during
    /// which no garbage collection ran. The runtime itself attributes a few hundred bytes to a thread that a collection
    /// interrupts (seen with code that allocates nothing, when other threads force collections, as parallel tests do);
    /// such windows are measured again. Work that allocates shows it in every window, collection or not.
    /// </summary>
    public static long SteadyState(Action work, int rounds = 20, int warmUpRounds = 3)
    {
        for (var i = 0; i < warmUpRounds; i++)
        {
            work();
        }
        var fewest = long.MaxValue;
        for (var window = 0; window < MaxWindows; window++)
        {
            var collections = GC.CollectionCount(0);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < rounds; i++)
            {
                work();
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (GC.CollectionCount(0) == collections)
            {
                return allocated;
            }
            fewest = Math.Min(fewest, allocated);
        }
        return fewest;
    }
}
