using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>
/// Residency (notice §7) through the real gateway process with the shipped policy, an EEA site and two real mosquitto
/// upstreams, one in the <c>eea</c> region and one in <c>us</c>: an EEA device's outputs reach only the eea upstream,
/// except the one purpose the policy lets go to the US under standard contractual clauses; every copy names its region
/// and safeguard; an outage of one upstream does not hold back the other.
/// </summary>
public sealed class ResidencyTests
{
    private const string Serial = "SNRESIDENCY00001";
    private const string FirmwareTopic = $"dt/anker_power/A17C0/{Serial}/firmware";
    private const string NetworkTopic = $"dt/anker_power/A17C0/{Serial}/network";
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_eea_devices_outputs_reach_the_us_upstream_only_for_the_purpose_the_policy_names_scc_for()
    {
        using var temp = new TempDirectory();
        await using var eea = await Mosquitto.StartAsync();
        await using var us = await Mosquitto.StartAsync();
        await using var eeaCloud = await Client.ConnectAsync(eea.Port, "eea-ingest");
        await eeaCloud.SubscribeAsync("telemetry/#");
        await using var usCloud = await Client.ConnectAsync(us.Port, "us-ingest");
        await usCloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, Upstreams(eea.Port, us.Port));

        await using (var device = await Client.ConnectAsync(gateway.Port, "residency-device"))
        {
            Assert.True((await device.PublishAsync(FirmwareTopic, $$"""{"sn":"{{Serial}}","pn":"A17C0","sw_version":"v1"}""")).IsSuccess);
            Assert.True((await device.PublishAsync(NetworkTopic, $$$"""{"sn":"{{{Serial}}}","wifi":{"ssid":"HomeNet","rssi":-50}}""")).IsSuccess);
        }

        // eea: the firmware's three purposes and the network's diagnostics. us: firmware for product improvement only.
        var inEea = await eeaCloud.WaitForAsync(4, s_delivery);
        var inUs = await usCloud.WaitForAsync(1, s_delivery);
        // Whatever else was going to arrive has had its chance: both see the same device's two messages.
        await Task.Delay(TimeSpan.FromSeconds(2));
        inEea = [.. eeaCloud.Messages];
        inUs = [.. usCloud.Messages];

        Assert.True(inEea.Count == 4, $"{inEea.Count} outputs in the eea upstream; gateway log:\n{gateway.Output}");
        Assert.Equal(
            ["after-sales-service", "diagnostics", "product-improvement", "safety-recall"],
            inEea.Select(r => r.Properties["purpose"]).Order(StringComparer.Ordinal));
        Assert.All(inEea, r => Assert.Equal(("eea", "none"), (r.Properties["region"], r.Properties["safeguard"])));
        Assert.All(inEea, r => Assert.Equal(("eea", "none"), Tags(r)));

        var transferred = Assert.Single(inUs);
        Assert.Equal("product-improvement", transferred.Properties["purpose"]);
        Assert.Equal(("us", "scc"), (transferred.Properties["region"], transferred.Properties["safeguard"]));
        Assert.Equal(("us", "scc"), Tags(transferred));
        // What went to the US carries the pseudonym, never the serial.
        Assert.DoesNotContain(Serial, System.Text.Encoding.UTF8.GetString(transferred.Payload), StringComparison.Ordinal);
        Assert.DoesNotContain(Serial, transferred.Topic, StringComparison.Ordinal);

        // The device report (notice 9.2) says to which regions, under which safeguard, each purpose would go.
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var admin = gateway.AdminClient();
        using var report = System.Text.Json.JsonDocument.Parse(await admin.GetStringAsync(new Uri($"/v1/devices/{Serial}", UriKind.Relative)));
        Assert.Equal("eea", report.RootElement.GetProperty("siteRegion").GetString());
        var destinations = report.RootElement.GetProperty("forwarding").EnumerateArray()
            .Where(f => f.GetProperty("stream").GetString() == "firmware")
            .ToDictionary(
                f => f.GetProperty("purpose").GetString()!,
                f => string.Join(",", f.GetProperty("destinations").EnumerateArray().Select(d => $"{d.GetProperty("region").GetString()}:{d.GetProperty("safeguard").GetString()}")));
        Assert.Equal("eea:none,us:scc", destinations["product-improvement"]);
        Assert.Equal("eea:none", destinations["after-sales-service"]);
        Assert.Equal("eea:none", destinations["safety-recall"]);
    }

    [Fact]
    public async Task An_outage_of_the_us_upstream_does_not_hold_back_the_eea_upstream_and_its_outputs_follow_when_it_is_back()
    {
        const int messages = 30;
        using var temp = new TempDirectory();
        await using var eea = await Mosquitto.StartAsync();
        await using var eeaCloud = await Client.ConnectAsync(eea.Port, "eea-ingest");
        await eeaCloud.SubscribeAsync("telemetry/#");
        // The us upstream has the cloud subscriber's session on record, then goes down.
        await using var us = await Mosquitto.StartAsync(persistent: true);
        await using (var usCloud = await Client.ConnectAsync(us.Port, "us-ingest", cleanSession: false))
        {
            await usCloud.SubscribeAsync("telemetry/#");
        }
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, Upstreams(eea.Port, us.Port));
        await us.StopAsync();

        await using (var device = await Client.ConnectAsync(gateway.Port, "residency-device"))
        {
            for (var i = 0; i < messages; i++)
            {
                var result = await device.PublishAsync(FirmwareTopic, $$"""{"sn":"{{Serial}}","pn":"A17C0","sw_version":"v{{i}}"}""");
                Assert.True(result.IsSuccess, $"publish {i}: {result.ReasonCode}");
            }
        }

        // While the us upstream is down, every eea output arrives.
        var inEea = await eeaCloud.WaitForAsync(messages * 3, s_delivery);
        Assert.True(inEea.Count == messages * 3, $"{inEea.Count} of {messages * 3} outputs in the eea upstream while the us upstream was down; gateway log:\n{gateway.Output}");
        Assert.All(inEea, r => Assert.Equal("eea", r.Properties["region"]));

        await us.StartAsync();
        await using var usBack = await Client.ConnectAsync(us.Port, "us-ingest", cleanSession: false);
        var inUs = await usBack.WaitForAsync(messages, s_delivery);
        Assert.True(inUs.Count == messages, $"{inUs.Count} of {messages} outputs in the us upstream after it came back; gateway log:\n{gateway.Output}");
        Assert.All(inUs, r => Assert.Equal(("product-improvement", "us", "scc"), (r.Properties["purpose"], r.Properties["region"], r.Properties["safeguard"])));
        Assert.Equal(
            Enumerable.Range(0, messages).Select(i => $"v{i}").Order(StringComparer.Ordinal),
            inUs.Select(r => SwVersion(r)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task With_only_a_us_upstream_an_eea_sites_outputs_are_withheld_and_counted_except_the_scc_purpose()
    {
        const int messages = 5;
        using var temp = new TempDirectory();
        await using var us = await Mosquitto.StartAsync();
        await using var usCloud = await Client.ConnectAsync(us.Port, "us-ingest");
        await usCloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory, $"--Gateway:Upstreams:west:Url=mqtt://127.0.0.1:{us.Port}", "--Gateway:Upstreams:west:Region=us");

        await using (var device = await Client.ConnectAsync(gateway.Port, "residency-device"))
        {
            for (var i = 0; i < messages; i++)
            {
                Assert.True((await device.PublishAsync(FirmwareTopic, $$"""{"sn":"{{Serial}}","pn":"A17C0","sw_version":"v{{i}}"}""")).IsSuccess);
            }
        }

        var inUs = await usCloud.WaitForAsync(messages, s_delivery);
        await Task.Delay(TimeSpan.FromSeconds(2));
        inUs = [.. usCloud.Messages];
        Assert.Equal(messages, inUs.Count);
        Assert.All(inUs, r => Assert.Equal("product-improvement", r.Properties["purpose"]));

        Assert.Equal(0, await gateway.StopAsync());
        // Said once at start for each purpose nothing configured may take, then counted in the records of processing.
        Assert.Contains("Stream firmware, purpose after-sales-service: no configured upstream lies in a region its residency allows", gateway.Output, StringComparison.Ordinal);
        Assert.Contains($"Records of processing: stream firmware, purpose after-sales-service (contract): {messages} outputs", gateway.Output, StringComparison.Ordinal);
        Assert.Contains($"outputs not sent as no upstream lies in a region the purpose may go to {messages}", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Serial, gateway.Output, StringComparison.Ordinal);
    }

    private static string[] Upstreams(int eeaPort, int usPort) =>
    [
        $"--Gateway:Upstreams:eu:Url=mqtt://127.0.0.1:{eeaPort}",
        "--Gateway:Upstreams:eu:Region=eea",
        $"--Gateway:Upstreams:west:Url=mqtt://127.0.0.1:{usPort}",
        "--Gateway:Upstreams:west:Region=us",
        "--Gateway:Site:Region=eea",
    ];

    private static (string Region, string Safeguard) Tags(Received received)
    {
        var envelope = Envelope.Parser.ParseFrom(received.Payload);
        return (envelope.DestinationRegion, envelope.TransferSafeguard);
    }

    private static string SwVersion(Received received) =>
        System.Text.Json.JsonDocument.Parse(Envelope.Parser.ParseFrom(received.Payload).Payload.ToStringUtf8()).RootElement.GetProperty("sw_version").GetString()!;
}
