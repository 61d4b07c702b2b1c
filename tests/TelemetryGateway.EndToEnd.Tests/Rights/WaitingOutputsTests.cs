using System.Text;
using System.Text.Json;
using TelemetryGateway.EndToEnd.Tests.Security;
using TelemetryGateway.EndToEnd.Tests.Support;
using static TelemetryGateway.EndToEnd.Tests.Rights.ConsentSite;

namespace TelemetryGateway.EndToEnd.Tests.Rights;

/// <summary>
/// The data subject's choices reach outputs produced but not yet transferred: with the cloud down, the outputs wait in
/// the outbox; a withdrawal removes the device's refused ones, an erasure (the CLI, while the gateway runs) all of them.
/// </summary>
public sealed class WaitingOutputsTests
{
    private const string Serial = "SNWAITING0000001";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_withdrawal_removes_the_device_s_waiting_outputs_of_that_purpose()
    {
        using var temp = new TempDirectory();
        await using var upstream = await PrepareCloudSessionAsync();
        await using var gateway = await StartAsync(temp, upstream.Port);
        await using var app = await InstallerAsync(gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(gateway.Port, "dev-w1");
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "personalization"));
        await PublishSettingsThenMarkerAsync(device, "W01", Serial);

        await ConsentAsync(app, "installer-1", Serial, ConsentBody("withdraw", "personalization"));

        var results = await app.WaitForAsync(2, s_wait);
        using (var withdrawal = JsonDocument.Parse(results[1].Payload))
        {
            Assert.Equal(1, withdrawal.RootElement.GetProperty("removedWaitingOutputs").GetInt32());
        }
        await upstream.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest", cleanSession: false);
        var received = await cloud.WaitForAsync(3, s_wait);
        Assert.True(received.Count == 3, gateway.Output);
        Assert.DoesNotContain(received, r => r.Properties["purpose"] == "personalization");
    }

    [Fact]
    public async Task An_erasure_by_the_cli_while_the_gateway_runs_leaves_nothing_of_the_device_but_the_audit_entry()
    {
        using var temp = new TempDirectory();
        await using var upstream = await PrepareCloudSessionAsync();
        await using var gateway = await StartAsync(temp, upstream.Port);
        await using var app = await InstallerAsync(gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(gateway.Port, "dev-w2");
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "personalization"));
        await PublishSettingsThenMarkerAsync(device, "W02", Serial);

        var erase = await Cli(temp, "erase", "--device", Serial);

        Assert.True(erase.ExitCode == 0, erase.Output);
        Assert.Contains("erased: 1 records, 4 waiting outputs, 0 dead letters, ", erase.Output, StringComparison.Ordinal);
        Assert.True(await Loopback.EventuallyAsync(() => gateway.Output.Contains("Consent registry changed by another process", StringComparison.Ordinal), s_wait), gateway.Output);
        var shown = await Cli(temp, "show", "--device", Serial);
        using (var report = JsonDocument.Parse(shown.Output))
        {
            Assert.Equal(0, report.RootElement.GetProperty("history").GetArrayLength());
            Assert.Equal(0, report.RootElement.GetProperty("waitingOutputs").GetInt64());
        }
        Assert.Equal(0, await gateway.StopAsync());
        foreach (var file in Directory.GetFiles(temp.DataDirectory, "*", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Serial)) < 0, $"{Path.GetFileName(file)} still holds the serial");
        }
    }

    private static async Task<GatewayProcess> StartAsync(TempDirectory temp, int upstreamPort)
    {
        var credentials = temp.Combine("users.json");
        var added = await CommandLine.RunAsync("dotnet", [GatewayProcess.Dll, "users", "add", "installer-1", "--role", "installer", "--file", credentials], standardInput: InstallerPassword);
        Assert.True(added.ExitCode == 0, added.Output);
        return await GatewayProcess.StartAsync(temp.DataDirectory, Settings(temp, credentials, upstreamPort));
    }

    private static Task<CommandResult> Cli(TempDirectory temp, params string[] args) =>
        CommandLine.RunAsync("dotnet", [GatewayProcess.Dll, "consent", .. args, "--data-dir", temp.DataDirectory, "--key-file", temp.KeyFile]);

    /// <summary>A persistent cloud broker with the ingestion session subscribed, then stopped: outputs wait in the gateway's outbox.</summary>
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
}
