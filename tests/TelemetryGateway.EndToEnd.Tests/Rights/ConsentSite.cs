using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Security;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Rights;

/// <summary>
/// One site for the consent tests: a gateway whose upstream is a real mosquitto (the cloud), two installer users and a
/// device user added with the real <c>users add</c> verb; devices publish anonymously on loopback (the default), the
/// installers with their passwords. Each test uses its own product number, so the cloud subscriber of a test sees only
/// that test's outputs (the product number is kept in clear in every output topic).
/// </summary>
public sealed class ConsentSite : IAsyncLifetime, IDisposable
{
    public const string InstallerPassword = "installer-pass-1";
    public const string OtherInstallerPassword = "installer-pass-2";
    public const string DevicePassword = "device-pass-1";
    public const string DeviceUserSerial = "SNCONSENT0000099";

    private readonly TempDirectory _temp = new();
    private GatewayProcess? _gateway;
    private Mosquitto? _cloud;

    internal GatewayProcess Gateway => _gateway!;
    internal TempDirectory Temp => _temp;
    public string CredentialsFile => _temp.Combine("users.json");
    public int CloudPort => _cloud!.Port;

    public async Task InitializeAsync()
    {
        await AddUserAsync("installer-1", InstallerPassword, "--role", "installer");
        await AddUserAsync("installer-2", OtherInstallerPassword, "--role", "installer");
        await AddUserAsync("device-1", DevicePassword, "--role", "device", "--serial", DeviceUserSerial);
        _cloud = await Mosquitto.StartAsync();
        _gateway = await GatewayProcess.StartAsync(_temp.DataDirectory, Settings(_temp, CredentialsFile, _cloud.Port));
    }

    internal static string[] Settings(TempDirectory temp, string credentialsFile, int cloudPort) =>
    [
        $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}",
        $"--Gateway:Security:CredentialsFile={credentialsFile}",
        $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{cloudPort}",
    ];

    internal async Task AddUserAsync(string name, string password, params string[] options)
    {
        var added = await CommandLine.RunAsync("dotnet", [GatewayProcess.Dll, "users", "add", name, .. options, "--file", CredentialsFile], standardInput: password);
        Assert.True(added.ExitCode == 0, added.Output);
    }

    /// <summary>The commissioning app of <paramref name="installer"/>, subscribed to its own topics (where consent results arrive).</summary>
    internal static async Task<Client> InstallerAsync(int port, string installer, string password, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var app = await Client.ConnectAsync(port, $"{installer}-app-{Guid.NewGuid():N}", version, configure: o => o.WithCredentials(installer, password));
        await app.SubscribeAsync($"app/{installer}/#");
        return app;
    }

    /// <summary>The cloud's view of one test: every output under the test's product number.</summary>
    internal async Task<Client> CloudAsync(string productNumber)
    {
        var cloud = await Client.ConnectAsync(CloudPort, $"cloud-{Guid.NewGuid():N}");
        await cloud.SubscribeAsync($"telemetry/+/dt/anker_power/{productNumber}/#");
        return cloud;
    }

    internal static string ConsentBody(string action, params string[] purposes) =>
        $$"""{"action":"{{action}}","purposes":[{{string.Join(',', purposes.Select(p => $"\"{p}\""))}}],"noticeVersion":"2025-09-26"}""";

    internal static Task<MqttClientPublishResult> ConsentAsync(Client app, string installer, string serial, string body) =>
        app.PublishAsync($"app/{installer}/consent/{serial}", Encoding.UTF8.GetBytes(body));

    /// <summary>A device's settings message, then its firmware report as a marker: once the marker's outputs arrived, so did the settings'.</summary>
    internal static async Task PublishSettingsThenMarkerAsync(Client device, string productNumber, string serial)
    {
        await device.PublishAsync($"dt/anker_power/{productNumber}/{serial}/settings", $$"""{"sn":"{{serial}}","language":"de","username":"OWNERCANARY"}""");
        await device.PublishAsync($"dt/anker_power/{productNumber}/{serial}/firmware", $$"""{"sn":"{{serial}}","sw_version":"v2"}""");
    }

    internal static MqttPubAckReasonCode Success => MqttPubAckReasonCode.Success;

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
        if (_cloud is not null)
        {
            await _cloud.DisposeAsync();
        }
    }

    public void Dispose() => _temp.Dispose();
}
