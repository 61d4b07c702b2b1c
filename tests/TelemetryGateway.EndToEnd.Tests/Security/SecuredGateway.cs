using System.Security.Cryptography.X509Certificates;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// One gateway for the security tests, set up as an operator would for a site network: anonymous access off, users
/// added with the real <c>users add</c> verb (password on redirected standard input), a TLS listener with a server
/// certificate from a private CA, client certificates accepted (optional) from that CA, a 2 s connect timeout and a
/// 64 KiB packet limit. Clients are mosquitto_pub / mosquitto_sub, and MQTTnet where a test must await a SUBACK.
/// </summary>
public class SecuredGateway : IAsyncLifetime, IDisposable
{
    public const string DeviceSerial = "SN00000000000001";
    public const string CertificateSerial = "SN00000000000002";
    public const string OtherSerial = "SN00000000000009";
    public const string DevicePassword = "device-pass-1";
    public const string CloudPassword = "cloud-pass-1";
    public const string InstallerPassword = "installer-pass-1";

    private readonly TempDirectory _temp = new();
    private GatewayProcess? _gateway;

    internal TestCertificates Certificates { get; private set; } = null!;
    internal GatewayProcess Gateway => _gateway!;
    public int TlsPort { get; } = Loopback.FreePort();
    public int PlainPort => Gateway.Port;
    public string CredentialsFile => _temp.Combine("users.json");
    public string Output => Gateway.Output;

    /// <summary>True once the gateway has printed <paramref name="text"/> (its console logger writes asynchronously), within 10 s.</summary>
    public Task<bool> OutputContainsAsync(string text) =>
        Loopback.EventuallyAsync(() => Output.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(10));

    /// <summary>The site broker's transport: <c>kestrel</c> (the default) or <c>tcp</c> (MQTTnet's own listener).</summary>
    protected virtual string Transport => "kestrel";

    /// <summary>More <c>--Gateway:...</c> settings for a derived site.</summary>
    protected virtual IEnumerable<string> ExtraSettings => [];

    /// <summary>More device users (name, password, serial) for a derived site.</summary>
    protected virtual IEnumerable<(string Name, string Password, string Serial)> ExtraDevices => [];

    public async Task InitializeAsync()
    {
        Certificates = new TestCertificates(_temp.Path);
        await AddUserAsync("device-1", DevicePassword, "--role", "device", "--serial", DeviceSerial);
        await AddUserAsync("cloud-1", CloudPassword, "--role", "cloud");
        await AddUserAsync("installer-1", InstallerPassword, "--role", "installer");
        foreach (var (name, password, serial) in ExtraDevices)
        {
            var added = await AddUserAsync(name, password, "--role", "device", "--serial", serial);
            Assert.True(added.ExitCode == 0, added.Output);
        }
        _gateway = await GatewayProcess.StartAsync(
            _temp.DataDirectory,
            [
                $"--Gateway:Pseudonymization:KeyFile={_temp.KeyFile}",
                "--Gateway:Security:AllowAnonymous=false",
                $"--Gateway:Security:CredentialsFile={CredentialsFile}",
                "--Gateway:Security:Tls:Enabled=true",
                $"--Gateway:Security:Tls:Port={TlsPort}",
                $"--Gateway:Security:Tls:CertificateFile={Certificates.ServerCertificateFile}",
                $"--Gateway:Security:Tls:KeyFile={Certificates.ServerKeyFile}",
                "--Gateway:Security:Tls:ClientCertificates=optional",
                $"--Gateway:Security:Tls:ClientCaFile={Certificates.CaFile}",
                "--Gateway:Security:Limits:ConnectTimeout=00:00:02",
                "--Gateway:Security:Limits:MaxPacketBytes=65536",
                $"--Gateway:Mqtt:Transport={Transport}",
                .. ExtraSettings,
            ]);
        await Loopback.WaitForListenerAsync(TlsPort, TimeSpan.FromSeconds(30), () => Gateway.Output);
    }

    /// <summary>The real verb, as a script would run it: the password is the first line of standard input.</summary>
    internal async Task<CommandResult> AddUserAsync(string name, string password, params string[] options) =>
        await CommandLine.RunAsync("dotnet", [GatewayProcess.Dll, "users", "add", name, .. options, "--file", CredentialsFile], standardInput: password);

    /// <summary>mosquitto_pub or mosquitto_sub against the TLS listener, trusting the test CA.</summary>
    internal Task<CommandResult> MosquittoAsync(string program, params string[] arguments) =>
        CommandLine.RunAsync(program, ["-h", "127.0.0.1", "-p", TlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--cafile", Certificates.CaFile, .. arguments]);

    /// <summary>An MQTTnet client over TLS with a user name and password.</summary>
    internal Task<Client> ConnectAsync(
        string clientId, string user, string password, MqttProtocolVersion version = MqttProtocolVersion.V500, Action<MQTTnet.MqttClientOptionsBuilder>? configure = null) =>
        Client.ConnectAsync(TlsPort, clientId, version, configure: options =>
        {
            options.WithCredentials(user, password)
                .WithTlsOptions(tls => tls.UseTls().WithTrustChain(new X509Certificate2Collection(Certificates.Ca)));
            configure?.Invoke(options);
        });

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    /// <summary>After <see cref="DisposeAsync"/> (xunit calls both): the files go once the gateway is gone.</summary>
    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same site on MQTTnet's own TCP listener (TLS endpoint included).</summary>
public sealed class SecuredTcpGateway : SecuredGateway
{
    protected override string Transport => "tcp";
}
