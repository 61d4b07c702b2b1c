using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Mqtt.Tests.Workers;

public sealed class AmqpTopicMappingTests
{
    [Fact]
    public void Routing_key_levels_become_topic_levels()
    {
        Assert.Equal("dt/anker_power/A17C0/SERIAL0000000001/firmware", AmqpQueueWorker.TopicOf("dt.anker_power.A17C0.SERIAL0000000001.firmware"));
    }

    [Fact]
    public void A_dot_in_a_topic_level_comes_back_as_a_dot()
    {
        // The MQTT plugin swaps the two characters, so a '.' in a device's topic travels as '/' in the routing key.
        Assert.Equal("dt/v1.2/status", AmqpQueueWorker.TopicOf("dt.v1/2.status"));
    }
}
