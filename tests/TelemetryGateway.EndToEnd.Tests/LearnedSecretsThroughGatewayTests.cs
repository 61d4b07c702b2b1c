using System.Text;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>
/// The gateway remembers what a device's network message revealed and removes it from that site's later logs, in a
/// syntax no pattern knows, across a restart (the values persisted encrypted in the data directory).
/// </summary>
public sealed class LearnedSecretsThroughGatewayTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    private const string Ssid = "Maple Court 5G";
    private const string Passphrase = "tulip-Reed-93";
    private const string LogTopic = "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/log";

    // Nothing announces the values: a banner and a configuration dump.
    private static readonly string s_log =
        $"2026-11-24T10:00:01Z I ui: banner {Ssid.ToUpperInvariant()} shown\n2026-11-24T10:00:02Z I http: GET /setup?n={Ssid.Replace(' ', '+')}&k={Passphrase}\n";

    [Fact]
    public async Task A_value_revealed_by_a_network_message_never_reaches_the_cloud_in_a_later_log_even_after_a_restart()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}", "--Gateway:Upstream:Envelope=none");
        int firstOutputs;
        await using (var device = await Client.ConnectAsync(gateway.Port, "WK1DEGZD8PCF32ER", MqttProtocolVersion.V500))
        {
            var network = $$$"""{"sn":"WK1DEGZD8PCF32ER","wifi":{"ssid":"{{{Ssid}}}","password":"{{{Passphrase}}}","rssi":-50}}""";
            Assert.True((await device.PublishAsync("dt/anker_power/A17C0/WK1DEGZD8PCF32ER/network", network)).IsSuccess);
            Assert.True((await device.PublishAsync(LogTopic, s_log)).IsSuccess);
            firstOutputs = await WaitForLogOutputsAsync(cloud, 1);
        }

        Assert.Equal(0, await gateway.StopAsync());
        Assert.True(File.Exists(Path.Combine(temp.DataDirectory, "learned-secrets.bin")));
        await gateway.StartAsync();
        await using (var device = await Client.ConnectAsync(gateway.Port, "WK1DEGZD8PCF32ER", MqttProtocolVersion.V500))
        {
            Assert.True((await device.PublishAsync(LogTopic, s_log)).IsSuccess);
            await WaitForLogOutputsAsync(cloud, 2 * firstOutputs);
        }

        var logs = cloud.Messages.Where(m => m.Topic.Contains("/log", StringComparison.Ordinal)).Select(m => Encoding.UTF8.GetString(m.Payload)).ToList();
        Assert.NotEmpty(logs);
        foreach (var log in logs)
        {
            Assert.DoesNotContain("maple", log, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("tulip", log, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("banner [ssid] shown", log, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("Maple", gateway.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Passphrase, gateway.Output, StringComparison.OrdinalIgnoreCase);
    }

    // The log stream has several purposes: waits until at least minimum log outputs arrived and no more came for a while.
    private static async Task<int> WaitForLogOutputsAsync(Client cloud, int minimum)
    {
        var deadline = DateTime.UtcNow + s_wait;
        var last = -1;
        while (DateTime.UtcNow < deadline)
        {
            var count = cloud.Messages.Count(m => m.Topic.Contains("/log", StringComparison.Ordinal));
            if (count >= minimum && count == last)
            {
                return count;
            }

            last = count;
            await Task.Delay(500);
        }

        throw new TimeoutException("the log outputs did not reach the cloud");
    }
}
