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

    [Fact]
    public async Task A_will_waits_for_its_delay_and_is_dropped_when_the_client_returns_in_time()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await using var watcher = await Client.ConnectAsync(gateway.Port, "will-watcher");
        await watcher.SubscribeAsync("site/will/#");

        // Will delay 3 s, session expiry 60 s: lost connection, nothing for 1.5 s, the will within 3 + 5 s.
        var delayed = await Client.ConnectAsync(gateway.Port, "will-delayed", configure: b => b.WithSessionExpiryInterval(60)
            .WithWillTopic("site/will/delayed").WithWillPayload("gone").WithWillDelayInterval(3));
        var lost = DateTime.UtcNow;
        delayed.Abort();
        await Task.Delay(1500);
        Assert.Empty(watcher.Messages);
        var wills = await watcher.WaitForAsync(1, TimeSpan.FromSeconds(8));
        Assert.Equal("site/will/delayed", Assert.Single(wills).Topic);
        Assert.InRange((DateTime.UtcNow - lost).TotalSeconds, 2.5, 10);

        // The client is back within the delay: no will at all.
        var returning = await Client.ConnectAsync(gateway.Port, "will-returning", configure: b => b.WithSessionExpiryInterval(60)
            .WithWillTopic("site/will/returning").WithWillPayload("gone").WithWillDelayInterval(3));
        returning.Abort();
        await Task.Delay(500);
        await using var back = await Client.ConnectAsync(gateway.Port, "will-returning", cleanSession: false);
        await Task.Delay(4500);
        Assert.Single(watcher.Messages);

        // Session expiry 0 is shorter than the will delay: the will goes out when the connection (and session) ends.
        var shortSession = await Client.ConnectAsync(gateway.Port, "will-short-session", configure: b => b.WithSessionExpiryInterval(0)
            .WithWillTopic("site/will/short").WithWillPayload("gone").WithWillDelayInterval(30));
        shortSession.Abort();
        var all = await watcher.WaitForAsync(2, TimeSpan.FromSeconds(5));
        Assert.Equal(["site/will/delayed", "site/will/short"], all.Select(m => m.Topic));
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
