using System.Diagnostics;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>An upstream that requires TLS (its own CA) and a username and password, as a real cloud broker would.</summary>
public sealed class UpstreamSecurityTests
{
    [Fact]
    public async Task Delivers_over_tls_with_a_private_ca_and_credentials()
    {
        using var temp = new TempDirectory();
        var port = Loopback.FreePort();
        var (ca, certificate, key) = await CreateCertificatesAsync(temp.Path);
        var passwords = temp.Combine("passwords");
        await RunAsync("mosquitto_passwd", "-b", "-c", passwords, "gateway", "s3cret-upstream");
        await using var upstream = Mosquitto.Create(port, listenerSettings:
            [$"cafile {ca}", $"certfile {certificate}", $"keyfile {key}", "tls_version tlsv1.2", $"password_file {passwords}"]);
        await upstream.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory,
            $"--Gateway:Upstream:Url=mqtts://127.0.0.1:{port}",
            $"--Gateway:Upstream:CaFile={ca}",
            "--Gateway:Upstream:Username=gateway",
            "--Gateway:Upstream:Password=s3cret-upstream");
        await using var cloud = await Client.ConnectAsync(port, "cloud-ingest", configure: options => options
            .WithCredentials("gateway", "s3cret-upstream")
            .WithTlsOptions(tls => tls.UseTls().WithTrustChain(LoadCa(ca))));
        await cloud.SubscribeAsync("telemetry/#");
        await using var device = await Client.ConnectAsync(gateway.Port, "device-tls");

        await device.PublishAsync("dt/anker_power/A17C0/SN00000000000001/firmware", """{"sn":"SN00000000000001","sw_version":"v2"}""");

        var received = await cloud.WaitForAsync(3, TimeSpan.FromSeconds(30));
        Assert.True(received.Count == 3, gateway.Output);
        Assert.DoesNotContain("s3cret-upstream", gateway.Output, StringComparison.Ordinal);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2Collection LoadCa(string path)
    {
        var collection = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        return collection;
    }

    /// <summary>A private CA and a server certificate for 127.0.0.1, made with Debian's openssl.</summary>
    private static async Task<(string Ca, string Certificate, string Key)> CreateCertificatesAsync(string directory)
    {
        string File(string name) => Path.Combine(directory, name);
        await RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", File("ca.key"), "-out", File("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        await RunAsync("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", File("server.key"), "-out", File("server.csr"));
        await System.IO.File.WriteAllTextAsync(File("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        await RunAsync("openssl", "x509", "-req", "-in", File("server.csr"), "-CA", File("ca.pem"), "-CAkey", File("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", File("server.ext"), "-out", File("server.pem"));
        return (File("ca.pem"), File("server.pem"), File("server.key"));
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} failed: {await error}");
    }
}
