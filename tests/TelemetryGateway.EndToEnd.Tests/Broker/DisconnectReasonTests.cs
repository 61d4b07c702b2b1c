using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Broker;

/// <summary>
/// The site broker closes an MQTT 5 connection with a DISCONNECT that says why (MQTT 5 §4.13): a packet over the
/// advertised Maximum Packet Size (0x95), topic alias 0 (0x94), an alias the connection never set (0x82); and says so in
/// its log. Real clients against a running gateway.
/// </summary>
public sealed class DisconnectReasonTests
{
    private const byte PacketTooLarge = 0x95;
    private const byte TopicAliasInvalid = 0x94;
    private const byte ProtocolError = 0x82;

    [Fact]
    public async Task A_publish_over_the_maximum_packet_size_gets_disconnect_0x95_and_is_logged_as_such()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, "--Gateway:Security:Limits:MaxPacketBytes=2000");
        var client = new MqttClientFactory().CreateMqttClient();
        using var _ = client;
        MqttClientDisconnectReason? reason = null;
        client.DisconnectedAsync += args =>
        {
            reason = args.Reason;
            return Task.CompletedTask;
        };
        var connected = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", gateway.Port).WithClientId("oversized-client").WithProtocolVersion(MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10)).Build());
        Assert.Equal(2000u, connected.MaximumPacketSize);

        // MQTTnet's client does not check the server's Maximum Packet Size itself: it sends the packet.
        var publishing = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("site/large").WithPayload(new byte[5000])
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce).Build());
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await publishing;
            // QoS 0 completes once written; the next request fails once the server has closed the connection.
            await client.PingAsync();
        });

        Assert.True(await Loopback.EventuallyAsync(() => reason is not null, TimeSpan.FromSeconds(10)));
        Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, reason);
        Assert.True(await Loopback.EventuallyAsync(() => gateway.Output.Contains("Connection closed with DISCONNECT 0x95 PacketTooLarge: packet too large", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), gateway.Output);
        Assert.DoesNotContain("Connection refused: packet too large", gateway.Output);
    }

    [Fact]
    public async Task Topic_alias_0_gets_0x94_and_an_alias_never_set_gets_0x82()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);

        var (zero, zeroAck) = await RawMqttClient.ConnectAsync(gateway.Port, "alias-zero");
        await using (zero)
        {
            Assert.Equal((byte?)0, zeroAck?.ReasonCode);
            Assert.Null(await zero.PublishAsync("site/alias", "x", topicAlias: 0));
            Assert.True(await zero.IsClosedByServerAsync());
            Assert.Equal(TopicAliasInvalid, zero.DisconnectReason);
        }

        var (unset, unsetAck) = await RawMqttClient.ConnectAsync(gateway.Port, "alias-unset");
        await using (unset)
        {
            Assert.Equal((byte?)0, unsetAck?.ReasonCode);
            // Alias 1 set with its topic, then used without one: accepted (0x10, nobody subscribed). Alias 2 was never set.
            Assert.Equal((byte)0x10, await unset.PublishAsync("site/alias", "set", topicAlias: 1));
            Assert.Equal((byte)0x10, await unset.PublishAsync("", "used", topicAlias: 1));
            Assert.Null(await unset.PublishAsync("", "unknown", topicAlias: 2));
            Assert.True(await unset.IsClosedByServerAsync());
            Assert.Equal(ProtocolError, unset.DisconnectReason);
        }

        // Aliases last as long as the connection: the same client id connected again has none.
        var (again, againAck) = await RawMqttClient.ConnectAsync(gateway.Port, "alias-unset");
        await using (again)
        {
            Assert.Equal((byte?)0, againAck?.ReasonCode);
            Assert.Null(await again.PublishAsync("", "stale", topicAlias: 1));
            Assert.Equal(ProtocolError, again.DisconnectReason);
        }
        Assert.True(await Loopback.EventuallyAsync(() => gateway.Output.Contains("Connection closed with DISCONNECT 0x94 TopicAliasInvalid: topic alias 0", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), gateway.Output);
    }
}
