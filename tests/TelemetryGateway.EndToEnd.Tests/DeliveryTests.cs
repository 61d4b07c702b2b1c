using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>At least once, through upstream outages and a killed gateway: what a device got a PUBACK for reaches the cloud.</summary>
public sealed class DeliveryTests
{
    private const int Messages = 40;
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Messages_accepted_while_the_upstream_is_down_are_delivered_when_it_comes_up()
    {
        using var temp = new TempDirectory();
        await using var upstream = await PrepareCloudSessionAsync();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");

        await PublishFirmwareAsync(gateway.Port, MqttProtocolVersion.V311, Messages);

        await upstream.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest", cleanSession: false);
        var received = await cloud.WaitForAsync(Messages * 3, s_delivery);
        AssertAllDelivered(received, gateway.Output);
    }

    [Fact]
    public async Task Nothing_is_lost_when_the_gateway_is_killed_while_the_upstream_is_down()
    {
        using var temp = new TempDirectory();
        await using var upstream = await PrepareCloudSessionAsync();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");

        await PublishFirmwareAsync(gateway.Port, MqttProtocolVersion.V500, Messages);
        await gateway.KillAsync();
        await gateway.StartAsync();
        await upstream.StartAsync();

        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest", cleanSession: false);
        var received = await cloud.WaitForAsync(Messages * 3, s_delivery);
        AssertAllDelivered(received, gateway.Output);
    }

    [Fact]
    public async Task A_graceful_stop_keeps_undelivered_outputs_for_the_next_start()
    {
        using var temp = new TempDirectory();
        await using var upstream = await PrepareCloudSessionAsync();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");

        await PublishFirmwareAsync(gateway.Port, MqttProtocolVersion.V311, Messages);
        Assert.Equal(0, await gateway.StopAsync());
        Assert.Contains($"{Messages * 3} left in the outbox", gateway.Output, StringComparison.Ordinal);
        // The records of processing, logged at shutdown: counts per stream and purpose, no values.
        Assert.Contains($"Records of processing: stream firmware, purpose product-improvement (legitimate-interest): {Messages} outputs", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("SERIAL0000000001", gateway.Output, StringComparison.Ordinal);

        await upstream.StartAsync();
        await gateway.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest", cleanSession: false);
        var received = await cloud.WaitForAsync(Messages * 3, s_delivery);
        AssertAllDelivered(received, gateway.Output);
    }

    [Fact]
    public async Task Accepted_QoS_0_messages_are_delivered_even_when_the_device_disconnects_right_after_publishing()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");

        const int count = 500;
        await using (var device = await Client.ConnectAsync(gateway.Port, "qos0-device", MqttProtocolVersion.V311))
        {
            for (var i = 0; i < count; i++)
            {
                await device.PublishAsync("dt/anker_power/A17C0/SERIAL0000000001/firmware", System.Text.Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL0000000001","sw_version":"v{{i}}"}"""), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce);
            }
            // The broker hands a client's publishes over one at a time, so this PUBACK means the gateway has accepted every
            // QoS 0 message before it; their deliveries upstream are then still running when the device goes away.
            var last = await device.PublishAsync("dt/anker_power/A17C0/SERIAL0000000001/firmware", System.Text.Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL0000000001","sw_version":"v{{count}}"}"""));
            Assert.True(last.IsSuccess);
        }

        var received = await cloud.WaitForAsync((count + 1) * 3, s_delivery);
        Assert.True(received.Count == (count + 1) * 3, $"{received.Count} of {(count + 1) * 3} outputs arrived; gateway log:\n{gateway.Output}");
    }

    /// <summary>
    /// A persistent upstream with the cloud subscriber's session on record, then stopped: while it is down nothing
    /// arrives, and once it is back the broker queues for that session whatever the gateway delivers.
    /// </summary>
    private static async Task<Mosquitto> PrepareCloudSessionAsync()
    {
        var upstream = await Mosquitto.StartAsync(persistent: true);
        await using (var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest", cleanSession: false))
        {
            await cloud.SubscribeAsync("telemetry/#");
        }
        await upstream.StopAsync();
        return upstream;
    }

    private static async Task PublishFirmwareAsync(int port, MqttProtocolVersion version, int count)
    {
        await using var device = await Client.ConnectAsync(port, "A17C0-device", version);
        for (var i = 0; i < count; i++)
        {
            var result = await device.PublishAsync("dt/anker_power/A17C0/SERIAL0000000001/firmware", $$"""{"sn":"SERIAL0000000001","sw_version":"v{{i}}"}""");
            Assert.True(result.IsSuccess, $"publish {i} was not acknowledged: {result.ReasonCode}");
        }
    }

    private static void AssertAllDelivered(IReadOnlyList<Received> received, string gatewayOutput)
    {
        var versions = received
            .Select(r => TelemetryGateway.Proto.Telemetry.V1.Envelope.Parser.ParseFrom(r.Payload))
            .GroupBy(e => e.Purpose)
            .ToDictionary(g => g.Key, g => g.Select(e => System.Text.Json.JsonDocument.Parse(e.Payload.ToStringUtf8()).RootElement.GetProperty("sw_version").GetString()).ToHashSet());
        Assert.True(versions.Count == 3, $"expected three purposes, got {string.Join(",", versions.Keys)}; gateway log:\n{gatewayOutput}");
        foreach (var (purpose, seen) in versions)
        {
            var missing = Enumerable.Range(0, Messages).Where(i => !seen.Contains($"v{i}")).ToList();
            Assert.True(missing.Count == 0, $"{purpose}: {missing.Count} outputs missing; gateway log:\n{gatewayOutput}");
        }
    }
}
