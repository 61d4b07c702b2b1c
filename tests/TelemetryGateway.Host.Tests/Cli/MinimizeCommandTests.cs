using System.Diagnostics;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Cli;

public sealed class MinimizeCommandTests
{
    [Fact]
    public void Batch_writes_one_tagged_line_per_output_and_quarantines_bad_inputs()
    {
        using var directory = new TempDirectory();
        var (exit, lines, _) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--batch", TestFiles.Corpus]);

        Assert.Equal(0, exit);
        var corpus = File.ReadAllLines(TestFiles.Corpus);
        var quarantined = lines.Where(l => l.TryGetProperty("quarantined", out _)).Select(l => l.GetProperty("input").GetInt32()).ToHashSet();
        for (var i = 0; i < corpus.Length; i++)
        {
            var isBad = corpus[i].Contains("-bad-", StringComparison.Ordinal);
            Assert.Equal(isBad, quarantined.Contains(i));
        }
        var outputs = lines.Where(l => l.TryGetProperty("purpose", out _)).ToList();
        Assert.NotEmpty(outputs);
        foreach (var output in outputs)
        {
            foreach (var tag in new[] { "input", "topic", "purpose", "legalBasis", "categories", "policy", "retention", "contentType", "payloadBase64" })
            {
                Assert.True(output.TryGetProperty(tag, out _), $"output line lacks '{tag}'");
            }
            var payloadBytes = Convert.FromBase64String(output.GetProperty("payloadBase64").GetString()!);
            if (output.GetProperty("contentType").GetString() == "application/json")
            {
                using var payload = JsonDocument.Parse(payloadBytes);
                Assert.Equal(JsonValueKind.Object, payload.RootElement.ValueKind);
            }
            else
            {
                Assert.Equal("text/plain; charset=utf-8", output.GetProperty("contentType").GetString());
                Assert.True(System.Text.Unicode.Utf8.IsValid(payloadBytes));
            }
        }
        // Every log line (text/plain) of the corpus has its scrubbed diagnostics output.
        var logInputs = corpus.Select((line, i) => (line, i)).Where(x => x.line.Contains("\"text/plain\"", StringComparison.Ordinal)).Select(x => x.i).ToHashSet();
        Assert.NotEmpty(logInputs);
        foreach (var logInput in logInputs)
        {
            var logOutput = Assert.Single(outputs, l => l.GetProperty("input").GetInt32() == logInput);
            Assert.Equal("diagnostics", logOutput.GetProperty("purpose").GetString());
        }
    }

    [Fact]
    public void Single_topic_reads_the_payload_from_a_file()
    {
        using var directory = new TempDirectory();
        var input = directory.File("in.json");
        File.WriteAllText(input, """{"sn":"WK1DEGZD8PCF32ER","wifi":{"ssid":"Home","password":"pw","rssi":-40},"ip":"81.2.69.142"}""");
        var (exit, lines, _) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--topic", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/network", "--in", input]);

        Assert.Equal(0, exit);
        var line = Assert.Single(lines);
        Assert.Equal("diagnostics", line.GetProperty("purpose").GetString());
        Assert.Equal("legitimate-interest", line.GetProperty("legalBasis").GetString());
        Assert.Equal("P90D", line.GetProperty("retention").GetString());
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", line.GetProperty("topic").GetString(), StringComparison.Ordinal);
        var payload = Encoding.UTF8.GetString(Convert.FromBase64String(line.GetProperty("payloadBase64").GetString()!));
        Assert.Contains("\"ip\":\"81.2.69.0\"", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("\"pw\"", payload, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_key_file_gives_the_same_outputs_across_runs()
    {
        using var directory = new TempDirectory();
        var key = directory.WriteKey();
        var first = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", key, "--batch", TestFiles.Corpus]).Lines.Select(l => l.GetRawText());
        var second = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", key, "--batch", TestFiles.Corpus]).Lines.Select(l => l.GetRawText());
        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData("--topic", "a/b")]
    [InlineData("--policy", "p.json")]
    [InlineData("--policy", "p.json", "--topic", "t", "--batch", "b")]
    [InlineData("--policy", "p.json", "--frobnicate", "x")]
    public void Usage_errors_exit_with_2(params string[] args)
    {
        Assert.Equal(2, Run(args).Exit);
    }

    [Fact]
    public void An_invalid_policy_exits_with_2()
    {
        using var directory = new TempDirectory();
        var policy = directory.File("p.json");
        File.WriteAllText(policy, """{ "id": "p" }""");
        var (exit, _, error) = Run(["--policy", policy, "--key-file", directory.WriteKey(), "--batch", TestFiles.Corpus]);
        Assert.Equal(2, exit);
        Assert.Contains("$.version", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unusable_batch_line_is_reported_by_number_without_its_content_and_exits_1()
    {
        using var directory = new TempDirectory();
        var batch = directory.File("batch.ndjson");
        File.WriteAllLines(batch, ["{\"topic\":\"dt/anker_power/A/SN/firmware\",\"payloadText\":\"{\\\"sn\\\":\\\"SN\\\"}\"}", "not json hunter2"]);
        var (exit, lines, error) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--batch", batch]);
        Assert.Equal(1, exit);
        Assert.Equal(3, lines.Count);
        Assert.Contains("batch line 2", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_learns_what_one_line_revealed_and_removes_it_from_the_later_lines()
    {
        using var directory = new TempDirectory();
        var batch = directory.File("batch.ndjson");
        var network = JsonSerializer.Serialize(new
        {
            topic = "dt/anker_power/A17C0/SN1/network",
            payloadText = """{"sn":"SN1","wifi":{"ssid":"Maple Court 5G","password":"tulip-Reed-93"}}""",
        });
        var log = JsonSerializer.Serialize(new
        {
            topic = "dt/anker_power/A17C0/SN1/log",
            payloadText = "2026-11-24T10:00:01Z I ui: banner Maple Court 5G shown\n2026-11-24T10:00:02Z I cfg: k=tulip-Reed-93",
        });
        File.WriteAllLines(batch, [log, network, log]);

        var (exit, lines, _) = Run(["--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--batch", batch]);

        Assert.Equal(0, exit);
        string PayloadsOf(int input) => string.Join("\n", lines
            .Where(l => l.GetProperty("input").GetInt32() == input && l.TryGetProperty("payloadBase64", out _))
            .Select(l => Encoding.UTF8.GetString(Convert.FromBase64String(l.GetProperty("payloadBase64").GetString()!))));
        // Before the network line nothing names the Wi-Fi network in the log: it passes as the text it is.
        Assert.Contains("banner Maple Court 5G shown", PayloadsOf(0), StringComparison.Ordinal);
        var after = PayloadsOf(2);
        Assert.NotEmpty(after);
        Assert.DoesNotContain("Maple", after, StringComparison.Ordinal);
        Assert.DoesNotContain("tulip", after, StringComparison.Ordinal);
        Assert.Contains("banner [ssid] shown", after, StringComparison.Ordinal);
    }

    [Fact]
    public void The_executable_runs_the_minimize_verb_in_its_own_process()
    {
        using var directory = new TempDirectory();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in new[] { TestFiles.GatewayDll, "minimize", "--policy", TestFiles.DefaultPolicy, "--key-file", directory.WriteKey(), "--topic", "dt/anker_power/A17C0/SN1/firmware" })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Write("""{"sn":"SN1","sw_version":"v1"}""");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(3, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
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
