using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Broker;

/// <summary>
/// MQTT 5 behaviour of the site broker toward its clients that MQTTnet 5.2 lacks on its own (Broker/SubscriberDelivery,
/// DeviceSecurity's session expiry): real MQTTnet clients against a running gateway on its embedded defaults.
/// </summary>
public sealed class SubscriberDeliveryTests
{
    private const string Topic = "site/delivery/check";

    [Fact]
    public async Task A_queued_message_past_its_expiry_is_not_delivered_and_the_rest_carry_the_remaining_interval()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await using (var offline = await Client.ConnectAsync(gateway.Port, "expiry-subscriber", cleanSession: false))
        {
            await offline.SubscribeAsync(Topic);
        }
        await using var publisher = await Client.ConnectAsync(gateway.Port, "expiry-publisher");
        foreach (var (payload, expiry) in new[] { ("short-1", 1u), ("long", 60u), ("short-2", 1u) })
        {
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithMessageExpiryInterval(expiry).Build());
        }

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        await using var resumed = await Client.ConnectAsync(gateway.Port, "expiry-subscriber", cleanSession: false);
        await resumed.WaitForAsync(1, TimeSpan.FromSeconds(10));
        // Anything queued would have been sent before the message published after the reconnect.
        await publisher.PublishAsync(Topic, "marker");
        var received = await resumed.WaitForAsync(2, TimeSpan.FromSeconds(10));

        Assert.Equal(["long", "marker"], received.Select(m => System.Text.Encoding.UTF8.GetString(m.Payload)));
        Assert.InRange(received[0].ExpirySeconds, 1u, 58u);
        Assert.Equal(0u, received[1].ExpirySeconds);
    }

    [Fact]
    public async Task A_publish_larger_than_the_subscribers_maximum_packet_size_is_not_sent_to_it()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await using var small = await Client.ConnectAsync(gateway.Port, "small-subscriber", configure: b => b.WithMaximumPacketSize(128));
        await using var unlimited = await Client.ConnectAsync(gateway.Port, "unlimited-subscriber");
        await small.SubscribeAsync(Topic);
        await unlimited.SubscribeAsync(Topic);
        await using var publisher = await Client.ConnectAsync(gateway.Port, "size-publisher");

        // Topic 19 bytes: a QoS 1 PUBLISH is 1 + 1 + 2 + 19 + 2 + 1 + payload bytes; 128 allows a payload of 102.
        await publisher.PublishAsync(Topic, new string('a', 102));
        await publisher.PublishAsync(Topic, new string('b', 103));
        await publisher.PublishAsync(Topic, new string('c', 500));
        await publisher.PublishAsync(Topic, "last");

        var all = await unlimited.WaitForAsync(4, TimeSpan.FromSeconds(10));
        var allowed = await small.WaitForAsync(2, TimeSpan.FromSeconds(10));
        await Task.Delay(500);

        Assert.Equal(4, all.Count);
        Assert.Equal([102, 4], small.Messages.Select(m => m.Payload.Length));
        Assert.Equal([102, 4], allowed.Select(m => m.Payload.Length));
        Assert.True(small.IsConnected);
    }

    [Fact]
    public async Task A_session_lives_as_long_as_its_last_connect_or_disconnect_asks_and_is_gone_after()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);

        // CONNECT asks for 2 s: present after 0.5 s, gone after 3 s (the sweep runs every 30 s by default: the resume
        // itself must see it expired).
        Assert.False(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: true, connectExpiry: 2));
        await Task.Delay(500);
        Assert.True(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 2));
        await Task.Delay(3000);
        Assert.False(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 2));

        // A later CONNECT asks for less than the one that made the session (MQTTnet would keep the first one's 60 s).
        Assert.False(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: true, connectExpiry: 60));
        Assert.True(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 1));
        await Task.Delay(2000);
        Assert.False(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 60));

        // The DISCONNECT asks for less than the CONNECT did (MQTT 5 §3.14.2.2.2).
        Assert.True(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 60, disconnectExpiry: 1));
        await Task.Delay(2000);
        Assert.False(await ConnectAndDisconnectAsync(gateway.Port, cleanStart: false, connectExpiry: 60));
    }

    /// <summary>Connects the one client id of the test and disconnects; returns the CONNACK's session present flag.</summary>
    private static async Task<bool> ConnectAndDisconnectAsync(int port, bool cleanStart, uint connectExpiry, uint disconnectExpiry = 0)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId("session-expiry-client")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(cleanStart)
            .WithSessionExpiryInterval(connectExpiry)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build());
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        if (cleanStart)
        {
            await client.SubscribeAsync(Topic, MqttQualityOfServiceLevel.AtLeastOnce);
        }
        var disconnect = new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection);
        if (disconnectExpiry > 0)
        {
            disconnect.WithSessionExpiryInterval(disconnectExpiry);
        }
        await client.DisconnectAsync(disconnect.Build());
        // The gateway records the disconnect after the client has sent DISCONNECT: wait until it has.
        await Task.Delay(200);
        return result.IsSessionPresent;
    }
}
