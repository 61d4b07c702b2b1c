using MQTTnet;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>PUBACK reason codes sorted by what the MQTT 5 spec says they mean for a resend.</summary>
public sealed class PublishResultTests
{
    [Theory]
    [InlineData(MqttClientPublishReasonCode.Success, PublishOutcome.Acknowledged)]
    [InlineData(MqttClientPublishReasonCode.NoMatchingSubscribers, PublishOutcome.Acknowledged)]
    [InlineData(MqttClientPublishReasonCode.UnspecifiedError, PublishOutcome.Transient)]
    [InlineData(MqttClientPublishReasonCode.ImplementationSpecificError, PublishOutcome.Transient)]
    [InlineData(MqttClientPublishReasonCode.QuotaExceeded, PublishOutcome.Transient)]
    [InlineData(MqttClientPublishReasonCode.NotAuthorized, PublishOutcome.Rejected)]
    [InlineData(MqttClientPublishReasonCode.TopicNameInvalid, PublishOutcome.Rejected)]
    [InlineData(MqttClientPublishReasonCode.PayloadFormatInvalid, PublishOutcome.Rejected)]
    [InlineData((MqttClientPublishReasonCode)0x95, PublishOutcome.Rejected)]
    public void A_reason_code_has_the_outcome_its_meaning_gives(MqttClientPublishReasonCode code, PublishOutcome expected)
    {
        Assert.Equal(expected, PublishResult.FromReasonCode(code).Outcome);
    }

    [Fact]
    public void An_output_over_the_upstream_s_maximum_packet_size_is_measured_with_its_topic_and_tags()
    {
        var message = new UpstreamMessage("telemetry/p/t", new byte[1000], "application/json", "product-improvement", "legitimate-interest", "device", "x@1", "P1Y", 60);

        var size = MqttUpstream.EstimatedPacketSize(message);

        Assert.InRange(size, 1000 + 13 + 16 + 19 + 19 + 6 + 3 + 3, 1200);
    }
}
