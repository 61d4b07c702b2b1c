using System.Diagnostics;
using System.Text;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>
/// A device that publishes QoS 1 one message at a time, as most device SDKs do, behind a cloud mosquitto with its default
/// settings (Nagle's algorithm on). The device's PUBACK waits for every output's PUBACK from the cloud, and the broker
/// holds the second PUBACK of a pair until the first is acknowledged at the TCP level: unless the gateway acknowledges
/// at once, each message costs a delayed ACK (about 40 ms on Linux).
/// </summary>
public sealed class SequentialPublishTests(ITestOutputHelper output)
{
    private const int Messages = 200;
    private const string Topic = "dt/anker_power/A17C0/SERIAL0000000001/status";

    // A coarse functional bound, not a speed target: 200 stalled messages took 9.0–10.0 s here, unstalled 0.13–0.35 s.
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task One_message_at_a_time_is_not_held_by_the_cloud_brokers_delayed_acknowledgements()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}", $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        await using var device = await Client.ConnectAsync(gateway.Port, "A17C0-device", MqttProtocolVersion.V311);

        // The upstream is connected once an output arrives; from then on every output goes straight to it.
        var connected = Stopwatch.StartNew();
        while (cloud.Messages.Count == 0 && connected.Elapsed < TimeSpan.FromSeconds(30))
        {
            await device.PublishAsync(Topic, Status(0));
            await Task.Delay(100);
        }
        await Task.Delay(500);
        var before = cloud.Messages.Count;

        var stopwatch = Stopwatch.StartNew();
        for (var i = 1; i <= Messages; i++)
        {
            var result = await device.PublishAsync(Topic, Status(i));
            Assert.True(result.IsSuccess, $"publish {i} was not acknowledged: {result.ReasonCode}");
        }
        stopwatch.Stop();
        output.WriteLine($"{Messages} sequential QoS 1 publishes: {stopwatch.Elapsed.TotalSeconds:F3} s");

        Assert.True(stopwatch.Elapsed < s_bound,
            $"{Messages} sequential QoS 1 publishes took {stopwatch.Elapsed.TotalSeconds:F2} s (bound {s_bound.TotalSeconds:F0} s); gateway log:\n{gateway.Output}");
        // Two outputs (after-sales-service, product-improvement) per message, each acknowledged upstream before the device's PUBACK.
        // (At least: a warm-up output may still have been on its way when they were counted.)
        var received = await cloud.WaitForAsync(before + (2 * Messages), TimeSpan.FromSeconds(30));
        Assert.True(received.Count >= before + (2 * Messages), $"{received.Count - before} of {2 * Messages} outputs arrived");
    }

    private static byte[] Status(int i) =>
        Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL0000000001","pn":"A17C0","ts":{{i + 1}},"battery_soc":{{i % 100}}}""");
}
