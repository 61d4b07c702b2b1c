using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>The HTTP ingress over HTTPS, authenticating clients by a certificate from a private CA (made with openssl).</summary>
public sealed class ClientCertificateTests(HttpsIngressGateway fixture) : IClassFixture<HttpsIngressGateway>, IDisposable
{
    [Fact]
    public async Task Client_with_a_certificate_from_the_configured_ca_is_forwarded()
    {
        using var client = fixture.Client("client");

        using var response = await client.PostAsync("api/commissioning", Record());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Client_without_a_certificate_cannot_connect()
    {
        using var client = fixture.Client(null);

        await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync("api/commissioning", Record()));
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Client_with_a_certificate_from_another_ca_cannot_connect()
    {
        using var client = fixture.Client("rogue-client");

        await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync("api/commissioning", Record()));
        Assert.Empty(fixture.Sink.Requests);
    }

    private static ByteArrayContent Record()
    {
        var content = new ByteArrayContent(Corpus.Messages.First(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal)).Payload);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    public void Dispose() => fixture.Sink.Clear();
}

/// <summary>A gateway whose HTTP ingress speaks HTTPS and accepts only client certificates of its CA.</summary>
public sealed class HttpsIngressGateway : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly int _httpPort = Loopback.FreePort();
    private GatewayProcess _gateway = null!;

    internal CloudSink Sink { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await CreateCertificatesAsync();
        Sink = await CloudSink.StartAsync();
        string[] settings =
        [
            $"--Gateway:Pseudonymization:KeyFile={_temp.KeyFile}",
            $"--Gateway:Http:Port={_httpPort}",
            "--Gateway:Http:Authentication=client-certificate",
            $"--Gateway:Http:CertificateFile={File("server.pem")}",
            $"--Gateway:Http:KeyFile={File("server.key")}",
            $"--Gateway:Http:ClientCaFile={File("ca.pem")}",
            $"--ReverseProxy:Clusters:cloud:Destinations:sink:Address={Sink.Address}",
            "--ReverseProxy:Routes:commissioning:ClusterId=cloud",
            "--ReverseProxy:Routes:commissioning:Match:Path=/api/commissioning",
            "--ReverseProxy:Routes:commissioning:Metadata:TelemetryGateway.Stream=commissioning",
            "--ReverseProxy:Routes:commissioning:Metadata:TelemetryGateway.Purpose=after-sales-service",
        ];
        _gateway = await GatewayProcess.StartAsync(_temp.DataDirectory, settings);
        await Loopback.WaitForListenerAsync(_httpPort, TimeSpan.FromSeconds(30), () => _gateway.Output);
    }

    /// <summary>A client trusting the CA, presenting the certificate <paramref name="name"/> (<c>client</c>, <c>rogue-client</c>) or none.</summary>
    public HttpClient Client(string? name) => Security.TestCertificates.HttpsClient(
        new Uri($"https://127.0.0.1:{_httpPort}/"),
        X509Certificate2.CreateFromPem(System.IO.File.ReadAllText(File("ca.pem"))),
        name is null ? null : X509Certificate2.CreateFromPemFile(File($"{name}.pem"), File($"{name}.key")));

    private string File(string name) => _temp.Combine(name);

    /// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate from it; a client certificate from another CA.</summary>
    private async Task CreateCertificatesAsync()
    {
        await CreateAuthorityAsync("ca");
        await CreateAuthorityAsync("rogue-ca");
        await IssueAsync("ca", "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        await IssueAsync("ca", "client", "/CN=commissioning-app", "extendedKeyUsage=clientAuth\n");
        await IssueAsync("rogue-ca", "rogue-client", "/CN=commissioning-app", "extendedKeyUsage=clientAuth\n");
    }

    private Task CreateAuthorityAsync(string name) =>
        RunAsync("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", $"/CN={name}",
            "-keyout", File($"{name}.key"), "-out", File($"{name}.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");

    private async Task IssueAsync(string authority, string name, string subject, string extensions)
    {
        await RunAsync("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", File($"{name}.key"), "-out", File($"{name}.csr"));
        await System.IO.File.WriteAllTextAsync(File($"{name}.ext"), extensions);
        await RunAsync("openssl", "x509", "-req", "-in", File($"{name}.csr"), "-CA", File($"{authority}.pem"), "-CAkey", File($"{authority}.key"),
            "-CAcreateserial", "-days", "2", "-extfile", File($"{name}.ext"), "-out", File($"{name}.pem"));
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} failed: {await error}");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await Sink.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}
