using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Mqtt.Tests.Workers;

public sealed class AmqpDeliveryCountTests
{
    [Fact]
    public void A_first_delivery_has_no_count()
    {
        Assert.Equal(0, AmqpQueueWorker.DeliveryCount(null));
        Assert.Equal(0, AmqpQueueWorker.DeliveryCount(new Dictionary<string, object?>()));
    }

    [Theory]
    [InlineData(2L)]
    [InlineData(2)]
    [InlineData((byte)2)]
    public void The_quorum_queues_delivery_count_is_read_whatever_integer_type_it_arrives_as(object count)
    {
        Assert.Equal(2, AmqpQueueWorker.DeliveryCount(new Dictionary<string, object?> { ["x-delivery-count"] = count }));
    }

    [Fact]
    public void An_output_goes_out_persistent_with_its_tags_as_headers_and_its_retention_as_the_ttl()
    {
        var message = new UpstreamMessage("telemetry/safety-recall/dt/anker_power/A17C0/x/firmware", [1, 2], "application/json",
            "safety-recall", "legitimate-interest", "device-technical", "solix-default@1+sha256.ab", "P5Y", 3600);

        var properties = AmqpExchangeUpstream.PropertiesOf(message);

        Assert.Equal(RabbitMQ.Client.DeliveryModes.Persistent, properties.DeliveryMode);
        Assert.Equal("application/json", properties.ContentType);
        Assert.Equal("3600000", properties.Expiration);
        Assert.Equal("safety-recall", properties.Headers!["purpose"]);
        Assert.Equal("legitimate-interest", properties.Headers["legal-basis"]);
        Assert.Equal("device-technical", properties.Headers["categories"]);
        Assert.Equal("solix-default@1+sha256.ab", properties.Headers["policy"]);
        Assert.Equal("P5Y", properties.Headers["retention"]);
        Assert.Equal("telemetry.safety-recall.dt.anker_power.A17C0.x.firmware", AmqpExchangeUpstream.RoutingKeyOf(message.Topic));
    }

    [Fact]
    public void An_output_without_retention_has_no_ttl()
    {
        var message = new UpstreamMessage("telemetry/p/t", [], "application/json", "p", "contract", "", "policy", "", 0);

        Assert.Null(AmqpExchangeUpstream.PropertiesOf(message).Expiration);
    }
}
