using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>Sessions per identity on MQTTnet's own TCP listener, where connections are counted at CONNECT.</summary>
public sealed class SessionLimitTests
{
    private const string Serial = "SN00000000000001";
    private const string Password = "session-pass-1";
    private const byte Success = 0x00;
    private const byte ServerBusy = 0x89;

    [Fact]
    public async Task Connect_refused_at_the_connection_limit_does_not_count_as_a_session_of_the_identity()
    {
        using var temp = new TempDirectory();
        var users = temp.Combine("users.json");
        CredentialStore.AddOrReplace(users, new CredentialEntry("device-1", IdentityRole.Device, Serial, PasswordHash.Create(Password)));
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            "--Gateway:Mqtt:Transport=tcp", "--Gateway:Security:AllowAnonymous=false", $"--Gateway:Security:CredentialsFile={users}",
            "--Gateway:Security:Limits:MaxConnections=1", "--Gateway:Security:Limits:MaxConnectionsPerAddress=1",
            "--Gateway:Security:Limits:MaxSessionsPerIdentity=2");

        var (holder, held) = await RawMqttClient.ConnectAsync(gateway.Port, $"{Serial}-a", "device-1", Password);
        Assert.Equal(Success, held?.ReasonCode);
        for (var i = 0; i < 3; i++)
        {
            var (refused, busy) = await RawMqttClient.ConnectAsync(gateway.Port, $"{Serial}-b{i}", "device-1", Password);
            await refused.DisposeAsync();
            Assert.Equal(ServerBusy, busy?.ReasonCode);
        }
        await holder.DisposeAsync();

        // The clean session of the first connection ends with it; the refused ones never had one.
        byte? code = null;
        for (var attempt = 0; attempt < 20 && code != Success; attempt++)
        {
            await Task.Delay(200);
            var (client, ack) = await RawMqttClient.ConnectAsync(gateway.Port, $"{Serial}-c", "device-1", Password);
            code = ack?.ReasonCode;
            await client.DisposeAsync();
        }
        Assert.Equal(Success, code);
    }
}
