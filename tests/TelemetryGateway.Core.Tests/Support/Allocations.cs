namespace TelemetryGateway.Core.Tests.Support;

/// <summary>
/// Measures what a piece of work allocates on the current thread once warm. Allocation counts are deterministic for a
/// thread, so they are asserted exactly, unlike time.
/// </summary>
internal static class Allocations
{
    private const int MaxWindows = 200;

    /// <summary>
    /// Bytes allocated by <paramref name="rounds"/> calls of <paramref name="work"/> after warm-up, counted only in
    /// windows during which no garbage collection ran. The runtime itself attributes a few hundred bytes to a thread that
    /// a collection interrupts (seen with code that allocates nothing, when other threads force collections, as parallel
    /// tests do), so a window a collection interrupted is measured again, with half as many calls (down to one), until
    /// every round has been counted in an uninterrupted window; after a collection, one uncounted call refills what the
    /// collection emptied (see below). Work that allocates per call shows it in the windows that count.
    /// </summary>
    public static long SteadyState(Action work, int rounds = 20, int warmUpRounds = 3)
    {
        for (var i = 0; i < warmUpRounds; i++)
        {
            work();
        }
        var counted = 0;
        var allocated = 0L;
        var window = rounds;
        var fewestInterrupted = long.MaxValue;
        var seen = Collections();
        for (var attempt = 0; attempt < MaxWindows && counted < rounds; attempt++)
        {
            var calls = Math.Min(window, rounds - counted);
            if (Collections() != seen)
            {
                // A collection ran since the last window began: it may have emptied what the work keeps between calls
                // (the shared array pool's per-thread arrays, for one; seen as 248 bytes in the first log scrubbed
                // after a forced collection, and none after). One call, not counted, makes the state steady again.
                work();
            }
            var collections = Collections();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < calls; i++)
            {
                work();
            }
            var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            seen = collections;
            if (Collections() == collections)
            {
                allocated += bytes;
                counted += calls;
            }
            else
            {
                fewestInterrupted = Math.Min(fewestInterrupted, bytes);
                window = Math.Max(1, window / 2);
            }
        }
        // Every window interrupted (a machine collecting all the time): the least any of them saw, at worst.
        return counted == rounds ? allocated : Math.Max(allocated, fewestInterrupted);
    }

    // Collections of every generation: a background collection of generation 2 is not counted as one of generation 0.
    private static int Collections() => GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2);
}
