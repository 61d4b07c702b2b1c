using TelemetryGateway.EndToEnd.Tests.Security;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Hosting;

/// <summary>A first run's typos: reported as configuration errors (exit 2, every error, no stack trace), never a crash.</summary>
public sealed class ConfigurationErrorTests
{
    [Fact]
    public async Task Mistyped_values_and_unknown_keys_exit_2_with_every_error_and_no_stack_trace()
    {
        using var temp = new TempDirectory();

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, "--Gateway:Mqtt:Port=abc", "--Gateway:Upstream:ReconnectMaxDelay=5s", "--Gateway:Mqtt:Tranport=tcp",
             $"--Gateway:DataDirectory={temp.DataDirectory}", $"--Gateway:Admin:Port={Loopback.FreePort()}"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("3 error(s)", run.Output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Mqtt:Port: 'abc' is not a whole number", run.Output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Upstream:ReconnectMaxDelay: '5s' is not a duration", run.Output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Mqtt:Tranport: unknown setting", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.Output, StringComparison.Ordinal);
    }
}
