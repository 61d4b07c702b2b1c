using Google.Protobuf;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>
/// The protobuf device streams through the sample policy (deploy/policies/protobuf-devices.json): no planted value
/// reaches an output it may not reach, in any encoding, and every output is a valid message of its type.
/// </summary>
public sealed class ProtobufCanaryTests
{
    public static TheoryData<string, Segmentation> Cases()
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
    [MemberData(nameof(Cases))]
    public void Planted_values_reach_no_output_they_may_not_reach(string kind, Segmentation segmentation)
    {
        var outputs = Run(kind, segmentation);

        foreach (var (value, onlyFor) in ProtobufSamples.Canaries(kind))
        {
            foreach (var output in outputs)
            {
                if (onlyFor is not null && onlyFor.Contains(output.Purpose))
                {
                    continue;
                }
                Assert.False(CanaryScanner.Contains(output.Payload, value), $"{kind}: a planted value reached the {output.Purpose} payload");
                Assert.False(CanaryScanner.Contains(output.Topic, value), $"{kind}: a planted value reached the {output.Purpose} topic");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Precise_coordinates_do_not_survive_as_binary_doubles(string kind, Segmentation segmentation)
    {
        var outputs = Run(kind, segmentation);

        foreach (var coordinate in ProtobufSamples.BinaryCanaries(kind))
        {
            var bytes = BitConverter.GetBytes(coordinate);
            var asFloat = BitConverter.GetBytes((float)coordinate);
            foreach (var output in outputs)
            {
                Assert.True(output.Payload.AsSpan().IndexOf(bytes) < 0, $"{kind}: a precise coordinate reached the {output.Purpose} output");
                Assert.True(output.Payload.AsSpan().IndexOf(asFloat) < 0, $"{kind}: a precise coordinate reached the {output.Purpose} output as a float");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_output_parses_back_as_a_canonical_message_of_its_type(string kind, Segmentation segmentation)
    {
        var outputs = Run(kind, segmentation);

        Assert.NotEmpty(outputs);
        foreach (var output in outputs)
        {
            var parsed = ProtobufSamples.Parser(kind).ParseFrom(output.Payload);
            // Re-encoding gives the same bytes: no unknown fields, canonical lengths, fields in number order.
            Assert.Equal(output.Payload, parsed.ToByteArray());
        }
    }

    [Fact]
    public void Each_stream_fans_out_to_every_purpose_of_the_policy()
    {
        foreach (var kind in ProtobufSamples.Kinds)
        {
            var outputs = Run(kind, Segmentation.SingleSegment);
            var stream = ProtobufSamples.Policy.Streams.Single(s => s.Name == kind);
            // An aggregate entry has no per-message output: its messages are folded into its windows.
            Assert.Equal(stream.Purposes.Count(p => p.Aggregate is null), outputs.Count);
        }
    }

    internal static List<ProtobufSamples.Output> Run(string kind, Segmentation segmentation)
    {
        var outputs = ProtobufSamples.Run(
            ProtobufSamples.Policy, ProtobufSamples.Topic(kind), ProtobufSamples.Build(kind).ToByteArray(), segmentation, out var result);
        Assert.False(result.IsQuarantined, $"{kind} was quarantined as {result.QuarantineReason}");
        Assert.True(result.IsMatched);
        return outputs;
    }
}
