using System.Buffers;
using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>Steady state allocates nothing per protobuf message, for every purpose of each stream, on every segmentation.</summary>
public sealed class ProtobufZeroAllocationTests
{
    public static TheoryData<string, Segmentation> Kinds()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var kind in ProtobufSamples.Kinds)
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
        var topic = ProtobufSamples.Topic(kind);
        var payload = Segments.Split(ProtobufSamples.Build(kind).ToByteArray(), segmentation);
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key);

        Assert.True(Minimize(minimizer, topic, payload) > 0);

        var allocated = Allocations.SteadyState(() => Minimize(minimizer, topic, payload), rounds: 50);

        Assert.Equal(0, allocated);
    }

    private static int Minimize(Minimizer minimizer, string topic, in ReadOnlySequence<byte> payload)
    {
        var result = minimizer.Minimize(topic, payload);
        if (result.IsQuarantined)
        {
            throw new InvalidOperationException($"quarantined as {result.QuarantineReason}");
        }
        return result.Outputs.Length;
    }
}
