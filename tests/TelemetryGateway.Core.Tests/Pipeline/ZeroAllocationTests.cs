using System.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

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
        Assert.True(MinimizeAll(minimizer, inputs) > 0);
        var allocated = Allocations.SteadyState(() => MinimizeAll(minimizer, inputs));

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
