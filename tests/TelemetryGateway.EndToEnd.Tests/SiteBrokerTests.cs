using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>The site broker: local traffic at full fidelity, quarantine without disruption, MQTT semantics kept.</summary>
public sealed class SiteBrokerTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_malformed_message_is_quarantined_and_the_devices_next_message_flows(MqttProtocolVersion version)
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}", "--Gateway:Upstream:Envelope=none");
        await using var device = await Client.ConnectAsync(gateway.Port, "device-1", version);

        var bad = await device.PublishAsync("dt/anker_power/A17C0/SFQESH5AX2TJC9RH/network", "{\"sn\":\"SFQESH5AX2TJC9RH\",\"wifi\":{\"ssid\":\"LeakNet-1\",\"password\":\"leakpw-1\"");
        // MQTT 5: quarantined is acknowledged 0x99 Payload format invalid; 3.1.1 has no reason codes (a plain PUBACK).
        Assert.Equal(version == MqttProtocolVersion.V500 ? MQTTnet.MqttClientPublishReasonCode.PayloadFormatInvalid : MQTTnet.MqttClientPublishReasonCode.Success, bad.ReasonCode);
        var good = await device.PublishAsync("dt/anker_power/A17C0/SFQESH5AX2TJC9RH/network", """{"sn":"SFQESH5AX2TJC9RH","wifi":{"rssi":-40}}""");
        Assert.True(good.IsSuccess);

        await cloud.WaitForAsync(1, s_wait);
        await Task.Delay(300);
        var output = Assert.Single(cloud.Messages);
        Assert.Contains("\"rssi\":-40", Encoding.UTF8.GetString(output.Payload), StringComparison.Ordinal);
        Assert.True(device.IsConnected);
        var record = Assert.Single(await File.ReadAllLinesAsync(Path.Combine(temp.DataDirectory, "quarantine.ndjson")));
        using var json = JsonDocument.Parse(record);
        Assert.Equal("malformed-json", json.RootElement.GetProperty("reason").GetString());
        Assert.Equal("network", json.RootElement.GetProperty("stream").GetString());
        Assert.Equal("dt/anker_power/{pn}/{sn}/network", json.RootElement.GetProperty("topicFilter").GetString());
        foreach (var leak in new[] { "LeakNet-1", "leakpw-1", "SFQESH5AX2TJC9RH" })
        {
            Assert.DoesNotContain(leak, record, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(leak, gateway.Output, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Local_subscribers_get_commands_at_full_fidelity_and_nothing_of_them_goes_upstream()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}");
        await using var device = await Client.ConnectAsync(gateway.Port, "WK1DEGZD8PCF32ER", MqttProtocolVersion.V311);
        await device.SubscribeAsync("cmd/anker_power/A17C0/WK1DEGZD8PCF32ER/#");
        await using var app = await Client.ConnectAsync(gateway.Port, "installer-app");

        const string command = """{"cmd":"set_wifi","ssid":"Office-WLAN-160","password":"hunter4657!x"}""";
        await app.PublishAsync("cmd/anker_power/A17C0/WK1DEGZD8PCF32ER/req", command);

        var local = Assert.Single(await device.WaitForAsync(1, s_wait));
        Assert.Equal(command, Encoding.UTF8.GetString(local.Payload));
        await Task.Delay(1000);
        Assert.Empty(cloud.Messages);
    }

    [Fact]
    public async Task Retained_messages_reach_late_subscribers_and_wills_are_published_on_a_lost_connection()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await using (var device = await Client.ConnectAsync(gateway.Port, "retainer", MqttProtocolVersion.V311))
        {
            await device.PublishAsync("site/A17C0/online", Encoding.UTF8.GetBytes("yes"), retain: true);
        }
        await using var late = await Client.ConnectAsync(gateway.Port, "late-subscriber");
        await late.SubscribeAsync("site/#");
        var retained = Assert.Single(await late.WaitForAsync(1, s_wait));
        Assert.Equal("yes", Encoding.UTF8.GetString(retained.Payload));

        var dying = await Client.ConnectAsync(gateway.Port, "dying-device", MqttProtocolVersion.V311, configure: options =>
            options.WithWillTopic("site/A17C0/lost").WithWillPayload("gone"));
        dying.Abort();
        var messages = await late.WaitForAsync(2, s_wait);
        Assert.Contains(messages, m => m.Topic == "site/A17C0/lost" && Encoding.UTF8.GetString(m.Payload) == "gone");
    }

    [Fact]
    public async Task Without_an_upstream_outputs_are_published_under_filtered_on_the_site_broker()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, "--Gateway:Upstream:Envelope=none");
        await using var ingestion = await Client.ConnectAsync(gateway.Port, "cloud-ingest");
        await ingestion.SubscribeAsync("filtered/#");
        await using var device = await Client.ConnectAsync(gateway.Port, "device-7", MqttProtocolVersion.V311);

        await device.PublishAsync("dt/anker_power/A17C0/WK1DEGZD8PCF32ER/network", """{"sn":"WK1DEGZD8PCF32ER","ip":"81.2.69.142","geo":{"country":"GB","city":"London"}}""");

        var output = Assert.Single(await ingestion.WaitForAsync(1, s_wait));
        Assert.StartsWith("filtered/diagnostics/dt/anker_power/A17C0/", output.Topic, StringComparison.Ordinal);
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", output.Topic, StringComparison.Ordinal);
        Assert.Equal("diagnostics", output.Properties["purpose"]);
        Assert.Equal("legitimate-interest", output.Properties["legal-basis"]);
        var payload = Encoding.UTF8.GetString(output.Payload);
        Assert.Contains("\"ip\":\"81.2.69.0\"", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("London", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_configuration_is_refused_at_start_with_every_error()
    {
        using var temp = new TempDirectory();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            GatewayProcess.Dll, "--Gateway:Mqtt:Port=70000", "--Gateway:Mqtt:BindAddress=not-an-ip", "--Gateway:Upstream:Url=http://cloud",
            "--Gateway:Upstream:Envelope=xml", "--Gateway:Outbox:MaxMessages=0", $"--Gateway:Policy:Path={temp.Combine("missing.json")}",
            $"--Gateway:DataDirectory={temp.DataDirectory}",
        })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        foreach (var setting in new[] { "Gateway:Mqtt:Port", "Gateway:Mqtt:BindAddress", "Gateway:Upstream:Url", "Gateway:Upstream:Envelope", "Gateway:Outbox:MaxMessages", "Gateway:Policy:Path" })
        {
            Assert.Contains(setting, error, StringComparison.Ordinal);
        }
    }
}
