using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using TelemetryGateway.EndToEnd.Tests.Security;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Admin;

/// <summary>The admin listener of a running gateway: its own port, health probes, the running policy, and its key.</summary>
public sealed class AdminListenerTests
{
    [Fact]
    public async Task Health_and_readiness_report_every_check_as_ok_on_a_running_gateway()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var admin = gateway.AdminClient();

        using var live = await admin.GetAsync(new Uri("/healthz", UriKind.Relative));
        using var ready = await admin.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var readiness = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("ok", readiness.RootElement.GetProperty("status").GetString());
        foreach (var check in new[] { "policy", "listeners", "outbox", "upstream" })
        {
            Assert.Equal("ok", readiness.RootElement.GetProperty("checks").GetProperty(check).GetProperty("status").GetString());
        }
        using var liveness = JsonDocument.Parse(await live.Content.ReadAsStringAsync());
        Assert.True(liveness.RootElement.GetProperty("checks").TryGetProperty("delivery-loop", out _));
    }

    [Fact]
    public async Task Admin_policy_names_the_running_policy_with_its_file_hash()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var admin = gateway.AdminClient();

        using var policy = JsonDocument.Parse(await admin.GetStringAsync(new Uri("/admin/policy", UriKind.Relative)));

        Assert.Equal("solix-default", policy.RootElement.GetProperty("id").GetString());
        Assert.Equal(1, policy.RootElement.GetProperty("generation").GetInt64());
        var expected = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(GatewayProcess.Policy)));
        Assert.Equal(expected, policy.RootElement.GetProperty("sha256").GetString());
        Assert.True(policy.RootElement.TryGetProperty("loadedAt", out _));
    }

    [Fact]
    public async Task A_configured_admin_key_is_required_except_by_the_probes()
    {
        const string Key = "admin-key-4b7e2d1c9a";
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Key)));
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Admin:ApiKeySha256:0={hash}");
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var bare = gateway.AdminClient();
        using var wrong = gateway.AdminClient();
        wrong.DefaultRequestHeaders.Add("X-Api-Key", "not-the-key");
        using var keyed = gateway.AdminClient();
        keyed.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);

        using var bareMetrics = await bare.GetAsync(new Uri("/admin/policy", UriKind.Relative));
        using var wrongMetrics = await wrong.GetAsync(new Uri("/admin/policy", UriKind.Relative));
        using var bareReload = await bare.PostAsync(new Uri("/admin/reload", UriKind.Relative), null);
        using var keyedPolicy = await keyed.GetAsync(new Uri("/admin/policy", UriKind.Relative));
        using var bareHealth = await bare.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, bareMetrics.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongMetrics.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, bareReload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, keyedPolicy.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bareHealth.StatusCode);
        Assert.DoesNotContain(Key, gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_listener_off_loopback_without_a_key_refuses_to_start()
    {
        using var temp = new TempDirectory();

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, $"--Gateway:Mqtt:Port={Loopback.FreePort()}", $"--Gateway:DataDirectory={temp.DataDirectory}",
             "--Gateway:Admin:BindAddress=0.0.0.0", $"--Gateway:Admin:Port={Loopback.FreePort()}"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("Gateway:Admin: a BindAddress off loopback needs Gateway:Admin:ApiKeySha256 or Gateway:Admin:ApiKeysFile", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_loopback_a_client_certificate_of_the_configured_CA_stands_in_for_a_key()
    {
        using var temp = new TempDirectory();
        var certificates = new TestCertificates(temp.Path);
        var (clientFile, clientKey) = certificates.Client("operator", "ops-dashboard");
        var (otherFile, otherKey) = certificates.Client("stranger", "ops-dashboard", untrusted: true);
        // Bound to every address (so off loopback by configuration); the test still talks to 127.0.0.1 only.
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            "--Gateway:Admin:BindAddress=0.0.0.0",
            $"--Gateway:Admin:CertificateFile={certificates.ServerCertificateFile}",
            $"--Gateway:Admin:KeyFile={certificates.ServerKeyFile}",
            $"--Gateway:Admin:ClientCaFile={certificates.CaFile}");
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);

        using var withCertificate = Client(gateway.AdminPort, certificates, X509Certificate2.CreateFromPemFile(clientFile, clientKey));
        using var without = Client(gateway.AdminPort, certificates, null);
        using var withOther = Client(gateway.AdminPort, certificates, X509Certificate2.CreateFromPemFile(otherFile, otherKey));

        using var policy = await withCertificate.GetAsync(new Uri("/admin/policy", UriKind.Relative));
        using var refused = await without.GetAsync(new Uri("/admin/policy", UriKind.Relative));
        using var probe = await without.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        // A certificate of another CA fails the handshake itself: no request reaches the endpoints.
        await Assert.ThrowsAsync<HttpRequestException>(() => withOther.GetAsync(new Uri("/admin/policy", UriKind.Relative)));
        Assert.Contains("Admin listener on https://0.0.0.0", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_CA_without_HTTPS_is_a_configuration_error()
    {
        using var temp = new TempDirectory();
        var certificates = new TestCertificates(temp.Path);

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, $"--Gateway:Mqtt:Port={Loopback.FreePort()}", $"--Gateway:DataDirectory={temp.DataDirectory}",
             "--Gateway:Admin:BindAddress=0.0.0.0", $"--Gateway:Admin:Port={Loopback.FreePort()}", $"--Gateway:Admin:ClientCaFile={certificates.CaFile}"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("Gateway:Admin:ClientCaFile needs HTTPS (Gateway:Admin:CertificateFile and Gateway:Admin:KeyFile)", run.Output, StringComparison.Ordinal);
    }

    private static HttpClient Client(int port, TestCertificates certificates, X509Certificate2? certificate) =>
        TestCertificates.HttpsClient(new Uri($"https://127.0.0.1:{port}/"), certificates.Ca, certificate);
}
