namespace TelemetryGateway.Core.Tests.Support;

/// <summary>The allocation helper counts what work allocates per call, and nothing for work that allocates nothing, even while collections run.</summary>
public sealed class AllocationsTests
{
    private static byte[]? s_kept;

    [Fact]
    public void Counts_what_every_call_allocates_even_when_collections_run_meanwhile()
    {
        var calls = 0;
        var allocated = Allocations.SteadyState(() =>
        {
            s_kept = new byte[100];
            if (++calls % 7 == 0)
            {
                GC.Collect();
            }
        }, rounds: 40);

        // 100 bytes and the array's header, in every one of the 40 rounds counted.
        Assert.True(allocated >= 40 * 100, $"{allocated} bytes");
    }

    [Fact]
    public void Counts_nothing_for_work_that_allocates_nothing_when_collections_run_between_calls()
    {
        var calls = 0;
        var buffer = new byte[64];
        var allocated = Allocations.SteadyState(() =>
        {
            buffer.AsSpan().Fill((byte)calls);
            if (++calls % 5 == 0)
            {
                GC.Collect();
            }
        }, rounds: 40);

        Assert.Equal(0, allocated);
        GC.KeepAlive(s_kept);
    }
}
