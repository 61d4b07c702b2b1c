using System.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>Steady state allocates nothing per SOLIX message, for every message type of the corpus and every purpose.</summary>
public sealed class SolixZeroAllocationTests
{
    public static TheoryData<string, Segmentation> Kinds()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var type in SolixMessages.Corpus.Select(SolixMessages.TypeOf).Distinct())
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(type, segmentation);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Minimizing_all_purposes_allocates_nothing_in_steady_state(string type, Segmentation segmentation)
    {
        var inputs = SolixMessages.Corpus.Where(m => SolixMessages.TypeOf(m) == type)
            .Select(m => (m.Topic, Payload: Segments.Split(m.Payload, segmentation))).ToArray();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        Assert.Equal(inputs.Length * 2, MinimizeAll(minimizer, inputs));
        var allocated = Allocations.SteadyState(() => MinimizeAll(minimizer, inputs), rounds: 10);

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
