using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>Configurations that would expose the broker are refused before anything listens.</summary>
public sealed class StartupSafetyTests
{
    [Fact]
    public async Task Anonymous_access_on_a_network_bind_refuses_to_start()
    {
        using var temp = new TempDirectory();

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, "--Gateway:Mqtt:BindAddress=0.0.0.0", $"--Gateway:Mqtt:Port={Loopback.FreePort()}", $"--Gateway:DataDirectory={temp.DataDirectory}"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("AllowAnonymousOnNetwork=true", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unusable_tls_certificate_refuses_to_start()
    {
        using var temp = new TempDirectory();
        var notACertificate = temp.Combine("server.pem");
        await File.WriteAllTextAsync(notACertificate, "not a certificate");

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, $"--Gateway:Mqtt:Port={Loopback.FreePort()}", $"--Gateway:DataDirectory={temp.DataDirectory}",
             "--Gateway:Security:Tls:Enabled=true", $"--Gateway:Security:Tls:Port={Loopback.FreePort()}", $"--Gateway:Security:Tls:CertificateFile={notACertificate}"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("Gateway:Security:Tls", run.Output, StringComparison.Ordinal);
    }
}
