using MQTTnet;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Broker;

/// <summary>MQTT 5 PUBACK reason codes say what the gateway did with a QoS 1 publish, whether or not a local client subscribed.</summary>
public sealed class PublishReasonCodeTests
{
    private const string Topic = "dt/anker_power/A17C0/REASONSERIAL001/firmware";

    [Fact]
    public async Task Forwarded_is_0x00_quarantined_is_0x99_and_a_topic_nobody_takes_stays_0x10()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");
        await using var device = await Client.ConnectAsync(gateway.Port, "reason-device");

        var forwarded = await device.PublishAsync(Topic, """{"sn":"REASONSERIAL001","sw_version":"v1"}""");
        var quarantined = await device.PublishAsync(Topic, """{"sn":""");
        var unclaimed = await device.PublishAsync("site/nobody/listens", "{}");
        var forwardedAgain = await device.PublishAsync(Topic, """{"sn":"REASONSERIAL001","sw_version":"v2"}""");

        Assert.Equal(MqttClientPublishReasonCode.Success, forwarded.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, quarantined.ReasonCode);
        Assert.Equal("quarantined: malformed-json", quarantined.ReasonString);
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, unclaimed.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, forwardedAgain.ReasonCode);
        Assert.True(device.IsConnected);
    }
}
