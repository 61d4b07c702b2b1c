using Google.Protobuf;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>A protobuf device message published with mosquitto_pub through a gateway running the protobuf sample policy.</summary>
public sealed class ProtobufThroughGatewayTests
{
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(30);

    private static string PolicyPath => Path.Combine(AppContext.BaseDirectory, "policies", "protobuf-devices.json");

    [Fact]
    public async Task Protobuf_status_reaches_the_upstream_minimized_per_purpose()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory,
            $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}",
            "--Gateway:Upstream:Envelope=none",
            $"--Gateway:Policy:Path={PolicyPath}");
        var status = new DeviceStatus
        {
            Sn = "WK1DEGZD8PCF32ER",
            Pn = "A17C0",
            BatterySoc = 76,
            Location = new DeviceLocation { Latitude = 48.137361, Longitude = 11.575465 },
            Network = new DeviceNetwork { WifiName = "Office-WLAN-160", WifiSignal = -66, Ip = "2001:218:85a3::8a2e:370:7334", Mac = "CB:19:71:17:44:94" },
        };
        var file = temp.Combine("status.pb");
        await File.WriteAllBytesAsync(file, status.ToByteArray());

        await MosquittoPub.PublishFileAsync(gateway.Port, "device-pb", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/pb/status", file);

        var received = await cloud.WaitForAsync(2, s_delivery);
        Assert.Equal(2, received.Count);
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
        var service = DeviceStatus.Parser.ParseFrom(received.Single(r => r.Properties["purpose"] == "after-sales-service").Payload);
        Assert.Equal("WK1DEGZD8PCF32ER", service.Sn);
        Assert.Equal(48.1, service.Location.Latitude);
        Assert.Equal("2001:218:85a3::", service.Network.Ip);
        Assert.Equal("", service.Network.WifiName);
        var improvement = received.Single(r => r.Properties["purpose"] == "product-improvement");
        Assert.Equal(76, DeviceStatus.Parser.ParseFrom(improvement.Payload).BatterySoc);
        foreach (var canary in new[] { "WK1DEGZD8PCF32ER", "Office-WLAN-160", "CB:19:71:17:44:94" })
        {
            Assert.False(CanaryScanner.Contains(improvement.Payload, canary) || CanaryScanner.Contains(System.Text.Encoding.UTF8.GetBytes(improvement.Topic), canary));
        }
    }
}
