using System.Text;
using System.Text.Json;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Cli;

/// <summary><c>minimize --text</c>, and the count of inputs that matched no stream on standard error.</summary>
public sealed class MinimizeTextTests
{
    [Fact]
    public void Text_writes_a_json_output_as_payloadText()
    {
        using var directory = new TempDirectory();
        var input = directory.File("in.json");
        File.WriteAllText(input, """{"sn":"SN1","sw_version":"v1","wifi":"x"}""");

        var (exit, lines, _) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--text", "--topic", "dt/anker_power/A17C0/SN1/firmware", "--in", input]);

        Assert.Equal(0, exit);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            Assert.False(line.TryGetProperty("payloadBase64", out _));
            using var payload = JsonDocument.Parse(line.GetProperty("payloadText").GetString()!);
            Assert.Equal("v1", payload.RootElement.GetProperty("sw_version").GetString());
        }
    }

    [Fact]
    public void Without_text_the_payload_stays_base64()
    {
        using var directory = new TempDirectory();
        var input = directory.File("in.json");
        File.WriteAllText(input, """{"sn":"SN1","sw_version":"v1"}""");

        var (_, lines, _) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--topic", "dt/anker_power/A17C0/SN1/firmware", "--in", input]);

        Assert.All(lines, line => Assert.True(line.TryGetProperty("payloadBase64", out _)));
    }

    [Fact]
    public void Inputs_that_match_no_stream_are_counted_on_standard_error()
    {
        using var directory = new TempDirectory();
        var batch = directory.File("batch.ndjson");
        File.WriteAllLines(batch,
        [
            """{"topic":"site/other/1","payloadText":"{}"}""",
            """{"topic":"dt/anker_power/A17C0/SN1/firmware","payloadText":"{\"sn\":\"SN1\"}"}""",
            """{"topic":"site/other/2","payloadText":"{}"}""",
        ]);

        var (exit, lines, error) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--batch", batch]);

        Assert.Equal(0, exit);
        Assert.All(lines, line => Assert.Equal(1, line.GetProperty("input").GetInt32()));
        Assert.Contains("2 input(s) matched no stream of the policy", error, StringComparison.Ordinal);
    }

    private static (int Exit, List<JsonElement> Lines, string Error) Run(string[] args)
    {
        using var output = new MemoryStream();
        var error = new StringWriter();
        var exit = MinimizeCommand.Run(args, Stream.Null, output, error);
        var lines = Encoding.UTF8.GetString(output.ToArray())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToList();
        return (exit, lines, error.ToString());
    }
}
