using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Admin;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Registry;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>consent grant|withdraw|object|lift-objection|restrict|lift-restriction|show|erase --device SERIAL ...</c>: the data
/// subject's choices, recorded in the registry of a data directory (source <c>cli</c>) with the same rules as the MQTT
/// and admin ways in. Works while the gateway runs (it picks the change up within a second) or is stopped; the device's
/// waiting outputs the new choices refuse are removed from the outbox file. <c>show</c> prints the device's choices, its
/// history, its pseudonym and its waiting outputs as JSON (notice 9.2); <c>erase</c> is notice 9.6.
/// </summary>
internal static class ConsentCommand
{
    private const string Synopsis =
        "expected: consent grant|withdraw|object|lift-objection|restrict|lift-restriction --device SERIAL [--purposes ID,ID] "
        + "[--all-legitimate-interest] --notice-version VERSION [--actor NAME] [--data-dir DIR] [--key-file FILE] | "
        + "consent show --device SERIAL [--config FILE] [--data-dir DIR] [--key-file FILE] [--previous-key-file FILE ...] | "
        + "consent erase --device SERIAL [--actor NAME] [--data-dir DIR] [--key-file FILE]";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0)
        {
            return Usage.Error(error, Synopsis);
        }
        var verb = args[0];
        string? device = null, noticeVersion = null, keyFile = null, configFile = null;
        var previousKeyFiles = new List<string>();
        var actor = $"cli:{Environment.UserName}";
        var dataDirectory = GatewayOptions.DefaultDataDirectory;
        var purposes = PurposeSet.Empty;
        var allLegitimateInterest = false;
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] == "--all-legitimate-interest")
            {
                allLegitimateInterest = true;
                continue;
            }
            if (i + 1 >= args.Length)
            {
                return Usage.Error(error, $"{args[i]} needs a value");
            }
            var value = args[++i];
            switch (args[i - 1])
            {
                case "--device": device = value; break;
                case "--notice-version": noticeVersion = value; break;
                case "--actor": actor = value; break;
                case "--data-dir": dataDirectory = value; break;
                case "--key-file": keyFile = value; break;
                case "--previous-key-file": previousKeyFiles.Add(value); break;
                case "--config": configFile = value; break;
                case "--purposes":
                    foreach (var id in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!PrivacyVocabulary.TryParsePurpose(id, out var purpose))
                        {
                            return Usage.Error(error, $"--purposes: '{id}' is not a purpose id (one of: {string.Join(", ", PrivacyVocabulary.PurposeIds)})");
                        }
                        purposes = purposes.With(purpose);
                    }
                    break;
                default:
                    return Usage.Error(error, $"unknown option {args[i - 1]}");
            }
        }
        if (device is null)
        {
            return Usage.Error(error, "--device is required");
        }
        if (ChoiceRequestRules.DeviceErrors(device) is [var deviceError, ..])
        {
            return Usage.Error(error, deviceError);
        }
        try
        {
            var key = keyFile is null ? PseudonymizationKey.LoadOrCreate(dataDirectory) : PseudonymizationKey.FromFile(keyFile);
            // The values the device's messages revealed, as the gateway saved them: an erasure forgets them too (a running
            // gateway forgets its own copy when it picks up the erasure).
            var learned = new LearnedSecrets(limits: null);
            var learnedFile = new LearnedSecretsFile(Path.Combine(dataDirectory, LearnedSecretsFile.FileName), key);
            var learnedLoaded = verb == "erase" && learnedFile.Load(learned) == LearnedSecretsFile.LoadResult.Loaded;
            using var registry = ChoiceRegistry.Open(dataDirectory, key, new OutboxWaitingOutputs(dataDirectory), learned);
            switch (verb)
            {
                case "show":
                    var report = registry.Report(device);
                    var (forwarding, problems) = Forwarding(report.Choices, configFile);
                    var pseudonyms = new DevicePseudonyms(key, [.. previousKeyFiles.Select(PseudonymizationKey.FromFile)]).Of(device);
                    WriteReport(output, report, pseudonyms, forwarding);
                    foreach (var problem in problems)
                    {
                        error.WriteLine($"telemetry-gateway: {problem}");
                    }
                    return Usage.Success;
                case "erase":
                    var erased = registry.EraseAsync(device, actor, ChoiceSource.Cli, CancellationToken.None).GetAwaiter().GetResult();
                    if (learnedLoaded && erased.ForgottenValues > 0)
                    {
                        learnedFile.Save(learned);
                    }
                    output.WriteLine($"erased: {erased.RemovedRecords} records, {erased.RemovedWaitingOutputs} waiting outputs, {erased.RemovedDeadLetters} dead letters, "
                        + $"{erased.ForgottenValues} learned values; the audit entry names the device as {erased.Pseudonym}");
                    return Usage.Success;
                default:
                    if (!ChoiceIds.TryParseAction(verb, out var action))
                    {
                        return Usage.Error(error, Synopsis);
                    }
                    var request = new ChoiceRequest(device, action, purposes, allLegitimateInterest, noticeVersion ?? "", actor, ChoiceSource.Cli);
                    if (ChoiceRequestRules.Validate(request) is { Count: > 0 } errors)
                    {
                        foreach (var problem in errors)
                        {
                            error.WriteLine($"telemetry-gateway: {problem}");
                        }
                        error.WriteLine("telemetry-gateway: nothing was changed");
                        return Usage.Failure;
                    }
                    var outcome = registry.RecordAsync(request, CancellationToken.None).GetAwaiter().GetResult();
                    output.WriteLine($"recorded: {action.Id()} [{purposes}]{(allLegitimateInterest ? " (all legitimate-interest purposes)" : "")} as #{outcome.Record.Sequence}; "
                        + (outcome.RemovedWaitingOutputs == ChoiceOutcome.WaitingOutputsUnreachable
                            ? "the outbox could not be reached: its waiting outputs were not checked"
                            : $"{outcome.RemovedWaitingOutputs} waiting outputs removed"));
                    return Usage.Success;
            }
        }
        catch (Exception e) when (e is SqliteException or InvalidDataException or IOException or UnauthorizedAccessException or KeyMaterialException)
        {
            error.WriteLine($"telemetry-gateway: {e.Message}");
            return Usage.Failure;
        }
    }

    /// <summary>
    /// What the gateway's configuration (<paramref name="configFile"/>, else <c>appsettings.json</c> next to the executable,
    /// then <c>Gateway__*</c> environment variables, as the gateway reads them) and its policy would forward for a device
    /// with <paramref name="choices"/>, and to which regions (<see cref="DeviceForwarding"/>, as the admin API's report);
    /// null with the reasons when the configuration or the policy cannot be read (the record is shown all the same).
    /// </summary>
    private static (ForwardingReport? Report, List<string> Problems) Forwarding(DeviceChoices choices, string? configFile)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is null)
        {
            builder.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        }
        else
        {
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }
        IConfigurationSection gateway;
        try
        {
            gateway = builder.AddEnvironmentVariables().Build().GetSection(GatewayOptions.SectionName);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            return (null, [$"--config: {e.Message}; what the policy would forward is not shown"]);
        }
        var problems = ConfigurationShape.Check(gateway).ToList();
        GatewayOptions? options = null;
        if (problems.Count == 0)
        {
            try
            {
                options = gateway.Get<GatewayOptions>() ?? new GatewayOptions();
            }
            catch (InvalidOperationException e)
            {
                problems.Add(e.Message);
            }
        }
        if (options is not null)
        {
            problems.AddRange(Residencies.Validate(options.Upstream, options.Upstreams, options.Site));
        }
        CompiledPolicy? policy = null;
        if (options is not null && problems.Count == 0)
        {
            try
            {
                var compilation = PolicyCompiler.Compile(File.ReadAllBytes(options.Policy.Path));
                problems.AddRange(compilation.Errors.Select(e => $"Gateway:Policy:Path ({options.Policy.Path}) {e}"));
                policy = compilation.Policy;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"Gateway:Policy:Path: {e.Message}");
            }
        }
        if (options is null || policy is null || problems.Count > 0)
        {
            problems.Add("what the policy would forward is not shown");
            return (null, problems);
        }
        return (new ForwardingReport(policy.Tag, options.Site.Region, DeviceForwarding.Describe(policy, choices, options.Routes, options.Site.Region)), problems);
    }

    /// <summary>The policy (id@version), the site's region and what would be forwarded per stream purpose, and where.</summary>
    internal sealed record ForwardingReport(string Policy, string SiteRegion, List<object> Forwarding);

    /// <summary>The device's choices, history, pseudonym and waiting outputs as one JSON document (machine-readable, notice 9.2 and 9.5).</summary>
    internal static void WriteReport(TextWriter output, DeviceReport report, IReadOnlyList<DevicePseudonym> pseudonyms, ForwardingReport? forwarding = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            WriteReport(json, report, pseudonyms, forwarding);
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    internal static void WriteReport(Utf8JsonWriter json, DeviceReport report, IReadOnlyList<DevicePseudonym> pseudonyms, ForwardingReport? forwarding = null)
    {
        var choices = report.Choices;
        json.WriteStartObject();
        json.WriteString("device", report.Device);
        // Under the key in use first, then under each key rotated out: the cloud side finds the device's data by any.
        json.WriteStartArray("pseudonyms");
        foreach (var pseudonym in pseudonyms)
        {
            json.WriteStartObject();
            json.WriteString("keyId", pseudonym.KeyId);
            json.WriteString("pseudonym", pseudonym.Pseudonym);
            json.WriteBoolean("current", pseudonym.Current);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        WriteIds(json, "consents", choices.Consented);
        WriteIds(json, "objections", choices.Objected);
        json.WriteBoolean("objectsToAllLegitimateInterest", choices.ObjectsToLegitimateInterest);
        if (choices.IsRestricted)
        {
            WriteIds(json, "restrictedTo", choices.RestrictedTo);
        }
        else
        {
            json.WriteNull("restrictedTo");
        }
        json.WriteNumber("waitingOutputs", report.WaitingOutputs);
        json.WriteStartArray("history");
        foreach (var record in report.History)
        {
            var request = record.Request;
            json.WriteStartObject();
            json.WriteNumber("sequence", record.Sequence);
            json.WriteString("time", record.Time);
            json.WriteString("action", request.Action.Id());
            WriteIds(json, "purposes", request.Purposes);
            json.WriteBoolean("allLegitimateInterest", request.AllLegitimateInterest);
            json.WriteString("noticeVersion", request.NoticeVersion);
            json.WriteString("actor", request.Actor);
            json.WriteString("source", request.Source.Id());
            json.WriteEndObject();
        }
        json.WriteEndArray();
        // Notice 8: when the registry's retention ended the device's choices (the history before it no longer counts).
        json.WriteStartArray("expiries");
        foreach (var expiry in report.Expiries ?? [])
        {
            json.WriteStringValue(expiry);
        }
        json.WriteEndArray();
        if (forwarding is not null)
        {
            json.WriteString("policy", forwarding.Policy);
            json.WriteString("siteRegion", forwarding.SiteRegion);
            json.WritePropertyName("forwarding");
            JsonSerializer.Serialize(json, forwarding.Forwarding);
        }
        json.WriteEndObject();
    }

    private static void WriteIds(Utf8JsonWriter json, string name, PurposeSet purposes)
    {
        json.WriteStartArray(name);
        foreach (var id in purposes.Ids())
        {
            json.WriteStringValue(id);
        }
        json.WriteEndArray();
    }
}
