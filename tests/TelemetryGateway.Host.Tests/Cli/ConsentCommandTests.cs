using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Host.Tests.Cli;

/// <summary>The <c>consent</c> verb against a data directory: record, show, refuse what is malformed, erase.</summary>
public sealed class ConsentCommandTests
{
    private const string Device = "SERIALCANARY0001";

    [Fact]
    public void A_grant_is_shown_with_its_history_as_json()
    {
        using var directory = new TempDirectory();

        Assert.Equal(0, Run(directory, "grant", "--device", Device, "--purposes", "personalization,marketing", "--notice-version", "2025-09-26", "--actor", "dpo"));
        var (code, output, _) = RunCapturing(directory, "show", "--device", Device);

        Assert.Equal(0, code);
        using var report = JsonDocument.Parse(output);
        var root = report.RootElement;
        Assert.Equal(["marketing", "personalization"], root.GetProperty("consents").EnumerateArray().Select(e => e.GetString()).Order());
        var record = Assert.Single(root.GetProperty("history").EnumerateArray());
        Assert.Equal(("grant", "2025-09-26", "dpo", "cli"), (record.GetProperty("action").GetString(), record.GetProperty("noticeVersion").GetString(),
            record.GetProperty("actor").GetString(), record.GetProperty("source").GetString()));
        Assert.StartsWith("k", root.GetProperty("pseudonyms")[0].GetProperty("pseudonym").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_withdrawal_removes_the_device_s_waiting_outputs_of_that_purpose()
    {
        using var directory = new TempDirectory();
        await using (var outbox = SqliteOutbox.Open(directory.Path, new OutboxOptions(), NullLogger.Instance))
        {
            await outbox.AppendAsync([Message("personalization", "consent"), Message("after-sales-service", "contract")], CancellationToken.None);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Run(directory, "grant", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");

        var (code, output, _) = RunCapturing(directory, "withdraw", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");

        Assert.Equal(0, code);
        Assert.Contains("1 waiting outputs removed", output, StringComparison.Ordinal);
        Assert.Equal(1, new OutboxWaitingOutputs(directory.Path).CountWaiting(Device));
    }

    [Fact]
    public async Task A_choice_stands_when_the_outbox_cannot_be_reached_and_says_so()
    {
        using var directory = new TempDirectory();
        Directory.CreateDirectory(directory.Path);
        await File.WriteAllTextAsync(Path.Combine(directory.Path, SqliteOutbox.FileName), "not a database, as after a disk fault");

        var (code, output, _) = RunCapturing(directory, "grant", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");

        Assert.Equal(0, code);
        Assert.Contains("the outbox could not be reached: its waiting outputs were not checked", output, StringComparison.Ordinal);
        var (_, shown, _) = RunCapturing(directory, "show", "--device", Device);
        Assert.Equal(["personalization"], JsonDocument.Parse(shown).RootElement.GetProperty("consents").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void A_malformed_choice_is_explained_exits_1_and_changes_nothing()
    {
        using var directory = new TempDirectory();

        var (code, _, error) = RunCapturing(directory, "grant", "--device", Device, "--purposes", "legal-compliance");

        Assert.Equal(1, code);
        Assert.Contains("noticeVersion: required", error, StringComparison.Ordinal);
        Assert.Contains("'legal-compliance' is not processed on consent", error, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Device, error, StringComparison.Ordinal);
        var (_, shown, _) = RunCapturing(directory, "show", "--device", Device);
        Assert.Equal(0, JsonDocument.Parse(shown).RootElement.GetProperty("history").GetArrayLength());
    }

    [Fact]
    public void An_unknown_purpose_is_a_usage_error()
    {
        using var directory = new TempDirectory();

        Assert.Equal(2, Run(directory, "grant", "--device", Device, "--purposes", "advertising", "--notice-version", "v1"));
    }

    [Fact]
    public void An_erasure_leaves_nothing_of_the_device_but_the_audit_entry()
    {
        using var directory = new TempDirectory();
        Run(directory, "grant", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");
        var (_, before, _) = RunCapturing(directory, "show", "--device", Device);
        var pseudonym = JsonDocument.Parse(before).RootElement.GetProperty("pseudonyms")[0].GetProperty("pseudonym").GetString()!;

        // What the gateway learned from the device's messages, as it saved it: a value of the device's own, one another
        // device revealed too.
        var learnedFile = new LearnedSecretsFile(Path.Combine(directory.Path, LearnedSecretsFile.FileName), PseudonymizationKey.LoadOrCreate(directory.Path));
        var learned = new LearnedSecrets();
        learned.Learn(Device, LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        learned.Learn(Device, LearnedClass.WifiName, "Shared Court"u8);
        learned.Learn("OTHERDEVICE00001", LearnedClass.WifiName, "Shared Court"u8);
        learnedFile.Save(learned);

        var (code, output, _) = RunCapturing(directory, "erase", "--device", Device);

        Assert.Equal(0, code);
        Assert.Contains($"erased: 1 records, 0 waiting outputs, 0 dead letters, 1 learned values; the audit entry names the device as {pseudonym}", output, StringComparison.Ordinal);
        var remaining = new LearnedSecrets();
        Assert.Equal(LearnedSecretsFile.LoadResult.Loaded, learnedFile.Load(remaining));
        Assert.Equal(1, remaining.Count);
        Assert.Equal(-1, remaining.Current.Find("tulip-Reed-93"u8, 0, out _, out _));
        var (_, after, _) = RunCapturing(directory, "show", "--device", Device);
        var root = JsonDocument.Parse(after).RootElement;
        Assert.Equal(0, root.GetProperty("history").GetArrayLength());
        Assert.Equal(0, root.GetProperty("consents").GetArrayLength());
    }

    [Fact]
    public void Show_lists_per_purpose_what_would_be_forwarded_and_to_which_regions()
    {
        using var directory = new TempDirectory();
        var config = directory.File("gateway.json");
        File.WriteAllText(config, """
            {"Gateway": {"Upstreams": {
              "eu": {"Url": "mqtt://127.0.0.1:1", "Region": "eea"},
              "west": {"Url": "mqtt://127.0.0.1:2", "Region": "us"}}}}
            """);

        var before = Forwarding(RunCapturing(directory, "show", "--device", Device, "--config", config));
        Assert.Equal("no-consent", before[("settings", "personalization")].Refusal);

        Run(directory, "grant", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");
        var (code, output, error) = RunCapturing(directory, "show", "--device", Device, "--config", config);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        using (var report = JsonDocument.Parse(output))
        {
            Assert.Equal("eea", report.RootElement.GetProperty("siteRegion").GetString());
            Assert.StartsWith("solix-default@", report.RootElement.GetProperty("policy").GetString(), StringComparison.Ordinal);
        }
        var after = Forwarding((code, output, error));
        Assert.Equal((true, null, "eea:none"), after[("settings", "personalization")]);
        // The policy lets product improvement go to the US under standard contractual clauses (notice §7).
        Assert.Equal((true, null, "eea:none,us:scc"), after[("firmware", "product-improvement")]);
    }

    [Fact]
    public void Show_still_shows_the_record_when_the_configuration_cannot_be_read_and_says_why()
    {
        using var directory = new TempDirectory();
        var config = directory.File("gateway.json");
        File.WriteAllText(config, """{"Gateway": {"Upstreams": {"eu": {"Url": "mqtt://127.0.0.1:1", "Regoin": "eea"}}}}""");
        Run(directory, "grant", "--device", Device, "--purposes", "personalization", "--notice-version", "v1");

        var (code, output, error) = RunCapturing(directory, "show", "--device", Device, "--config", config);

        Assert.Equal(0, code);
        using var report = JsonDocument.Parse(output);
        Assert.Equal(["personalization"], report.RootElement.GetProperty("consents").EnumerateArray().Select(e => e.GetString()));
        Assert.False(report.RootElement.TryGetProperty("forwarding", out _));
        Assert.Contains("Gateway:Upstreams:eu:Regoin: unknown setting", error, StringComparison.Ordinal);
        Assert.Contains("what the policy would forward is not shown", error, StringComparison.Ordinal);
    }

    private static Dictionary<(string Stream, string Purpose), (bool Forwarded, string? Refusal, string Destinations)> Forwarding((int Code, string Output, string Error) shown)
    {
        Assert.Equal(0, shown.Code);
        using var report = JsonDocument.Parse(shown.Output);
        // A purpose with several entries of a stream is listed once per entry; the first stands for it here.
        return report.RootElement.GetProperty("forwarding").EnumerateArray()
            .DistinctBy(f => (f.GetProperty("stream").GetString(), f.GetProperty("purpose").GetString()))
            .ToDictionary(
            f => (f.GetProperty("stream").GetString()!, f.GetProperty("purpose").GetString()!),
            f => (f.GetProperty("forwarded").GetBoolean(), f.GetProperty("refusal").GetString(),
                string.Join(",", f.GetProperty("destinations").EnumerateArray().Select(d => $"{d.GetProperty("region").GetString()}:{d.GetProperty("safeguard").GetString()}"))));
    }

    private static UpstreamMessage Message(string purpose, string basis) =>
        new($"t/{purpose}", [1, 2, 3], "application/json", purpose, basis, "settings", "x@1", "P1Y", 0, "settings", Device);

    [Fact]
    public void The_report_names_the_device_s_pseudonyms_under_the_current_and_each_previous_key()
    {
        using var directory = new TempDirectory();
        var current = Path.Combine(directory.Path, "current.key");
        var previous = Path.Combine(directory.Path, "previous.key");
        File.WriteAllBytes(current, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.WriteAllBytes(previous, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var (code, output, _) = RunCapturing(directory, "show", "--device", Device, "--key-file", current, "--previous-key-file", previous);

        Assert.Equal(0, code);
        var pseudonyms = JsonDocument.Parse(output).RootElement.GetProperty("pseudonyms").EnumerateArray().ToArray();
        Assert.Equal(2, pseudonyms.Length);
        foreach (var (element, file, isCurrent) in new[] { (pseudonyms[0], current, true), (pseudonyms[1], previous, false) })
        {
            // Each as the gateway wrote it under that key (the minimizer's pseudonymizer), named by that key's id.
            var key = PseudonymizationKey.FromFile(file);
            using var pseudonymizer = new TelemetryGateway.Core.Transforms.Pseudonymizer(key);
            var expected = new byte[pseudonymizer.Length];
            var length = pseudonymizer.Write(System.Text.Encoding.UTF8.GetBytes(Device), expected);
            Assert.Equal(key.Id, element.GetProperty("keyId").GetString());
            Assert.Equal(System.Text.Encoding.ASCII.GetString(expected, 0, length), element.GetProperty("pseudonym").GetString());
            Assert.Equal(isCurrent, element.GetProperty("current").GetBoolean());
        }
        Assert.NotEqual(pseudonyms[0].GetProperty("pseudonym").GetString(), pseudonyms[1].GetProperty("pseudonym").GetString());
        Assert.DoesNotContain(Device, string.Join(' ', pseudonyms.Select(p => p.GetProperty("pseudonym").GetString())), StringComparison.Ordinal);
    }

    private static int Run(TempDirectory directory, params string[] args) => RunCapturing(directory, args).Code;

    private static (int Code, string Output, string Error) RunCapturing(TempDirectory directory, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ConsentCommand.Run([.. args, "--data-dir", directory.Path], output, error);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return (code, output.ToString(), error.ToString());
    }
}
