using System.Buffers;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Engine;

/// <summary>
/// Steady state allocates nothing per message on the JSON path. Allocation counts are deterministic for a thread,
/// so this is asserted exactly, unlike time.
/// </summary>
public sealed class ZeroAllocationTests
{
    public static TheoryData<string, Segmentation> Kinds()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var kind in new[] { "status", "firmware", "network" })
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(kind, segmentation);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Minimizing_all_purposes_allocates_nothing_in_steady_state(string kind, Segmentation segmentation)
    {
        var messages = Support.Corpus.Messages.Where(m => m.Id.EndsWith("-" + kind, StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(messages);
        var inputs = messages.Select(m => (m.Topic, Payload: Segments.Split(m.Payload, segmentation))).ToArray();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        // Warm-up: buffers grow to their working size, pools fill, lazy statics initialise.
        var outputs = 0;
        for (var round = 0; round < 3; round++)
        {
            outputs += MinimizeAll(minimizer, inputs);
        }
        Assert.True(outputs > 0);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var round = 0; round < 20; round++)
        {
            MinimizeAll(minimizer, inputs);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static int MinimizeAll(Minimizer minimizer, (string Topic, ReadOnlySequence<byte> Payload)[] inputs)
    {
        var outputs = 0;
        foreach (var (topic, payload) in inputs)
        {
            var result = minimizer.Minimize(topic, payload);
            Assert.False(result.IsQuarantined);
            outputs += result.Outputs.Length;
        }
        return outputs;
    }
}
