using System.Text.Json;
using MQTTnet;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// What one identity can make the gateway write and log: the publish rate is per identity (not per client id), and
/// repeated quarantines are counted, not written one by one.
/// </summary>
public sealed class FloodingTests
{
    private const string Serial = "SN00000000000001";
    private const string Password = "flood-pass-1";

    private static bool IsAccepted(MqttClientPublishReasonCode code) => (int)code < 0x80;

    [Fact]
    public async Task Publish_rate_is_shared_by_all_client_ids_of_one_identity()
    {
        using var temp = new TempDirectory();
        var users = temp.Combine("users.json");
        CredentialStore.AddOrReplace(users, new CredentialEntry("device-1", IdentityRole.Device, Serial, PasswordHash.Create(Password)));
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            "--Gateway:Security:AllowAnonymous=false", $"--Gateway:Security:CredentialsFile={users}",
            "--Gateway:Security:Limits:PublishesPerSecond=1", "--Gateway:Security:Limits:PublishBurst=4");
        var clients = new List<Client>();
        for (var i = 0; i < 3; i++)
        {
            clients.Add(await Client.ConnectAsync(gateway.Port, $"{Serial}-rate-{i}", configure: o => o.WithCredentials("device-1", Password)));
        }

        // Three client ids, four publishes each: the probe tripled its rate this way.
        var codes = new List<MqttClientPublishReasonCode>();
        foreach (var client in clients)
        {
            for (var i = 0; i < 4; i++)
            {
                codes.Add((await client.PublishAsync($"dt/anker_power/A17C0/{Serial}/firmware", """{"sw_version":"v1"}""")).ReasonCode);
            }
        }
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        // The burst of 4, plus at most a few tokens refilled (1 a second) while the 12 publishes ran.
        var accepted = codes.Count(IsAccepted);
        Assert.True(accepted is >= 4 and <= 7, string.Join(", ", codes));
        Assert.Contains(MqttClientPublishReasonCode.QuotaExceeded, codes);
    }

    [Fact]
    public async Task Anonymous_local_clients_share_one_rate_per_address()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            "--Gateway:Security:Limits:AnonymousPublishesPerSecond=1", "--Gateway:Security:Limits:AnonymousPublishBurst=4");
        await using var first = await Client.ConnectAsync(gateway.Port, "anon-rate-1");
        await using var second = await Client.ConnectAsync(gateway.Port, "anon-rate-2");

        var codes = new List<MqttClientPublishReasonCode>();
        for (var i = 0; i < 4; i++)
        {
            codes.Add((await first.PublishAsync("site/rate", "{}")).ReasonCode);
            codes.Add((await second.PublishAsync("site/rate", "{}")).ReasonCode);
        }

        Assert.True(codes.Count(IsAccepted) <= 6, string.Join(", ", codes));
    }

    [Fact]
    public async Task Repeated_quarantines_of_one_stream_and_reason_are_one_record_and_one_count()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        await using (var device = await Client.ConnectAsync(gateway.Port, "flood-1"))
        {
            // The probe's pattern: malformed publishes as fast as the broker acknowledges them.
            for (var i = 0; i < 300; i++)
            {
                await device.PublishAsync($"dt/anker_power/A17C0/{Serial}/status", "not json " + i);
            }
        }
        Assert.Equal(0, await gateway.StopAsync());

        var lines = await File.ReadAllLinesAsync(Path.Combine(temp.DataDirectory, "quarantine.ndjson"));
        Assert.True(lines.Length <= 2, $"{lines.Length} quarantine records");
        var total = lines.Sum(line =>
        {
            using var record = JsonDocument.Parse(line);
            return record.RootElement.TryGetProperty("repeated", out var repeated) ? repeated.GetInt64() : 1;
        });
        Assert.Equal(300, total);
        var logLines = gateway.Output.Split('\n').Count(l => l.Contains("Quarantined", StringComparison.Ordinal));
        Assert.True(logLines <= 2, $"{logLines} quarantine log lines");
        Assert.Contains("Quarantined 299 more status messages for malformed-json", gateway.Output, StringComparison.Ordinal);
    }
}
