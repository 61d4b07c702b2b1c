using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>The classify step on its own (what the security check reuses), and a minimize of the same topic after it.</summary>
public sealed class ClassificationTests
{
    private static readonly ReadOnlySequence<byte> s_firmware = new(Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}"""));

    [Fact]
    public void A_topic_is_classified_into_its_stream_or_none()
    {
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        Assert.Equal("firmware", minimizer.Classify("dt/anker_power/A17C0/SERIALCANARY0001/firmware")?.Name);
        Assert.Null(minimizer.Classify("cmd/anker_power/A17C0/SERIALCANARY0001/req"));
    }

    [Fact]
    public void Minimize_after_classify_gives_the_same_outputs_as_minimize_alone()
    {
        const string topic = "dt/anker_power/A17C0/SERIALCANARY0001/firmware";
        using var alone = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var classified = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        var expected = alone.Minimize(topic, s_firmware).Outputs.ToArray().Select(o => (Encoding.UTF8.GetString(o.Topic.Span), Encoding.UTF8.GetString(o.Payload.Span))).ToList();
        var stream = classified.Classify(topic);
        var actual = classified.Minimize(topic, s_firmware).Outputs.ToArray().Select(o => (Encoding.UTF8.GetString(o.Topic.Span), Encoding.UTF8.GetString(o.Payload.Span))).ToList();

        Assert.Equal("firmware", stream?.Name);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_topic_longer_than_the_route_cache_keeps_is_classified_and_minimized_alike()
    {
        var topic = "dt/anker_power/A17C0/" + new string('S', 300) + "/firmware";
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        var stream = minimizer.Classify(topic);
        var other = minimizer.Classify("dt/anker_power/A17C0/" + new string('T', 300) + "/firmware");
        var result = minimizer.Minimize(topic, s_firmware);

        Assert.Equal(("firmware", "firmware"), (stream?.Name, other?.Name));
        Assert.Equal(3, result.Outputs.Length);
        Assert.All(result.Outputs.ToArray(), o => Assert.DoesNotContain("TTTT", Encoding.UTF8.GetString(o.Topic.Span), StringComparison.Ordinal));
    }
}
