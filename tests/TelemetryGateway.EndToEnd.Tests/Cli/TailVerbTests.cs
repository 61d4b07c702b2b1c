using System.Text.Json;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Host.Cli;

namespace TelemetryGateway.EndToEnd.Tests.Cli;

/// <summary><c>telemetry-gateway tail</c> against a running gateway on its embedded defaults (outputs under filtered/).</summary>
public sealed class TailVerbTests
{
    private const string Serial = "TAILSERIAL000001";

    [Fact]
    public async Task Tail_prints_each_output_with_its_decoded_envelope_and_tags_and_ends_after_the_count()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        var outputText = new StringWriter();
        var errorText = new StringWriter();
        // Written by the verb while the test reads: MethodImplOptions.Synchronized writers lock on themselves.
        var output = TextWriter.Synchronized(outputText);
        var error = TextWriter.Synchronized(errorText);
        string Read(TextWriter writer, StringWriter text)
        {
            lock (writer)
            {
                return text.ToString();
            }
        }
        var tail = TailCommand.RunAsync(["--port", gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--count", "3", "--timeout", "30"], output, error);
        Assert.True(await Loopback.EventuallyAsync(() => Read(error, errorText).Contains("subscribed to filtered/#", StringComparison.Ordinal), TimeSpan.FromSeconds(15)), Read(error, errorText));

        await using var device = await Client.ConnectAsync(gateway.Port, "tail-device");
        await device.PublishAsync($"dt/anker_power/A17C0/{Serial}/firmware", $$"""{"sn":"{{Serial}}","sw_version":"v1.2.3"}""");

        Assert.Equal(0, await tail);
        var lines = Read(output, outputText).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var purposes = new List<string>();
        foreach (var line in lines)
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var purpose = root.GetProperty("purpose").GetString()!;
            purposes.Add(purpose);
            Assert.StartsWith($"filtered/{purpose}/", root.GetProperty("topic").GetString(), StringComparison.Ordinal);
            Assert.NotEmpty(root.GetProperty("legalBasis").GetString()!);
            Assert.NotEqual(0, root.GetProperty("categories").GetArrayLength());
            Assert.StartsWith("solix-default@", root.GetProperty("policy").GetString(), StringComparison.Ordinal);
            Assert.NotEmpty(root.GetProperty("retention").GetString()!);
            Assert.NotEmpty(root.GetProperty("stream").GetString()!);
            Assert.Contains("v1.2.3", root.GetProperty("payloadText").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(3, purposes.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task Tail_without_outputs_ends_at_its_timeout_with_exit_1_and_a_bad_argument_is_a_usage_error()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory);
        var output = new StringWriter();
        var started = DateTime.UtcNow;

        var exit = await TailCommand.RunAsync(["--port", gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--count", "1", "--timeout", "1.5"], output, TextWriter.Null);

        Assert.Equal(1, exit);
        Assert.Empty(output.ToString());
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 1.4, 15);
        Assert.Equal(2, await TailCommand.RunAsync(["--count", "none"], TextWriter.Null, TextWriter.Null));
    }
}
