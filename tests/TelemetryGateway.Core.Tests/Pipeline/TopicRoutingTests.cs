using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>Output topics stay right when topics repeat, interleave and outgrow the remembered routes.</summary>
public sealed class TopicRoutingTests
{
    private static readonly ReadOnlySequence<byte> Payload = new("""{"sn":"x"}"""u8.ToArray());

    [Fact]
    public void Interleaved_topics_get_the_output_topics_a_fresh_minimizer_gives()
    {
        // More devices than remembered routes, so routes are replaced and refilled.
        var topics = Enumerable.Range(0, 300).Select(i => $"dt/anker_power/A17C0/SN{i:D5}/network").ToArray();
        using var reused = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        for (var round = 0; round < 3; round++)
        {
            foreach (var topic in topics.Reverse().Where((_, i) => i % (round + 1) == 0))
            {
                Assert.Equal(OutputTopics(topic), OutputTopics(reused, topic));
            }
        }
    }

    [Fact]
    public void A_long_topic_is_routed_each_time()
    {
        var topic = $"dt/anker_power/A17C0/{new string('S', 400)}/network";
        using var reused = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        Assert.Equal(OutputTopics(topic), OutputTopics(reused, topic));
        Assert.Equal(OutputTopics(topic), OutputTopics(reused, topic));
        Assert.False(reused.Minimize(topic + "/more", Payload).IsMatched);
    }

    [Fact]
    public void An_unmatched_topic_stays_unmatched_when_repeated()
    {
        using var reused = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        Assert.False(reused.Minimize("dt/anker_power/A17C0/SN1/unknown", Payload).IsMatched);
        Assert.False(reused.Minimize("dt/anker_power/A17C0/SN1/unknown", Payload).IsMatched);
        Assert.True(reused.Minimize("dt/anker_power/A17C0/SN1/network", Payload).IsMatched);
    }

    private static string[] OutputTopics(string topic)
    {
        using var fresh = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        return OutputTopics(fresh, topic);
    }

    private static string[] OutputTopics(Minimizer minimizer, string topic)
    {
        var result = minimizer.Minimize(topic, Payload);
        Assert.False(result.IsQuarantined);
        return [.. result.Outputs.ToArray().Select(o => Encoding.UTF8.GetString(o.Topic.Span))];
    }
}
