using System.Text;
using Microsoft.Data.Sqlite;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Registry.Tests;

/// <summary>The registry on a real SQLite file: records, the snapshot the gates read, the history, erasure.</summary>
public sealed class ChoiceRegistryTests : IDisposable
{
    private const string Device = "SERIALCANARY0001";
    private const string Other = "SERIALCANARY0002";
    private static readonly PseudonymizationKey s_key = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly string _directory = Directory.CreateTempSubdirectory("registry-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_device_without_records_has_no_consent()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        Assert.False(registry.HasConsent(Purpose.Personalization, Device));
        Assert.Same(DeviceChoices.None, registry.Current.Of(Device));
    }

    [Fact]
    public async Task A_grant_takes_effect_for_that_device_only()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        var outcome = await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization), default);

        Assert.True(registry.HasConsent(Purpose.Personalization, Device));
        Assert.False(registry.HasConsent(Purpose.Personalization, Other));
        Assert.False(registry.HasConsent(Purpose.Marketing, Device));
        Assert.True(outcome.Record.Sequence > 0);
    }

    [Fact]
    public async Task A_withdrawal_ends_the_consent()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);
        await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization, Purpose.Marketing), default);

        await registry.RecordAsync(Request(ChoiceAction.Withdraw, Purpose.Personalization), default);

        Assert.False(registry.HasConsent(Purpose.Personalization, Device));
        Assert.True(registry.HasConsent(Purpose.Marketing, Device));
    }

    [Fact]
    public async Task An_objection_to_marketing_is_lifted_only_by_a_new_grant_after_it()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);
        await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Marketing), default);
        await registry.RecordAsync(Request(ChoiceAction.Objection, Purpose.Marketing), default);
        Assert.Equal(Core.Policy.ProcessingAction.NoConsent, registry.Current.Of(Device).Refusal(Purpose.Marketing, LegalBasis.Consent));

        // Lifting the objection does not bring the consent given before it back.
        await registry.RecordAsync(Request(ChoiceAction.LiftObjection, Purpose.Marketing), default);
        Assert.False(registry.HasConsent(Purpose.Marketing, Device));

        await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Marketing), default);
        Assert.Null(registry.Current.Of(Device).Refusal(Purpose.Marketing, LegalBasis.Consent));
    }

    [Fact]
    public async Task An_objection_to_all_legitimate_interest_purposes_leaves_contract_processing()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        await registry.RecordAsync(Request(ChoiceAction.Objection, allLegitimateInterest: true), default);

        var choices = registry.Current.Of(Device);
        Assert.Equal(Core.Policy.ProcessingAction.Objected, choices.Refusal(Purpose.ProductImprovement, LegalBasis.LegitimateInterest));
        Assert.Equal(Core.Policy.ProcessingAction.Objected, choices.Refusal(Purpose.Diagnostics, LegalBasis.LegitimateInterest));
        Assert.Null(choices.Refusal(Purpose.AfterSalesService, LegalBasis.Contract));
        Assert.Null(registry.Current.Of(Other).Refusal(Purpose.ProductImprovement, LegalBasis.LegitimateInterest));
    }

    [Fact]
    public async Task A_restriction_lets_only_its_purposes_through_until_lifted()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        await registry.RecordAsync(Request(ChoiceAction.Restrict, Purpose.AfterSalesService), default);
        Assert.Null(registry.Current.Of(Device).Refusal(Purpose.AfterSalesService, LegalBasis.Contract));
        Assert.Equal(Core.Policy.ProcessingAction.Restricted, registry.Current.Of(Device).Refusal(Purpose.SafetyRecall, LegalBasis.LegitimateInterest));

        await registry.RecordAsync(Request(ChoiceAction.LiftRestriction), default);
        Assert.Null(registry.Current.Of(Device).Refusal(Purpose.SafetyRecall, LegalBasis.LegitimateInterest));
    }

    [Fact]
    public async Task Choices_are_folded_again_from_the_history_when_reopened()
    {
        using (var registry = ChoiceRegistry.Open(_directory, s_key, null))
        {
            await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization, Purpose.Marketing), default);
            await registry.RecordAsync(Request(ChoiceAction.Withdraw, Purpose.Marketing), default);
            await registry.RecordAsync(Request(ChoiceAction.Objection, Purpose.ProductImprovement), default);
        }

        using var reopened = ChoiceRegistry.Open(_directory, s_key, null);

        var choices = reopened.Current.Of(Device);
        Assert.True(choices.HasConsent(Purpose.Personalization));
        Assert.False(choices.HasConsent(Purpose.Marketing));
        Assert.True(choices.ObjectsTo(Purpose.ProductImprovement, LegalBasis.LegitimateInterest));
        var history = reopened.Report(Device).History;
        Assert.Equal([ChoiceAction.Grant, ChoiceAction.Withdraw, ChoiceAction.Objection], history.Select(r => r.Request.Action));
        Assert.All(history, r => Assert.Equal(("2025-09-26", "installer:test", ChoiceSource.Cli), (r.Request.NoticeVersion, r.Request.Actor, r.Request.Source)));
    }

    [Fact]
    public async Task A_change_by_another_process_is_picked_up_by_refresh()
    {
        using var gateway = ChoiceRegistry.Open(_directory, s_key, null);
        Assert.False(gateway.Refresh());

        using (var cli = ChoiceRegistry.Open(_directory, s_key, null))
        {
            await cli.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization), default);
        }

        Assert.True(gateway.Refresh());
        Assert.True(gateway.HasConsent(Purpose.Personalization, Device));
    }

    [Fact]
    public async Task An_erasure_forgets_the_values_the_device_alone_revealed_here_and_in_a_gateway_that_picks_it_up()
    {
        var gatewayMemory = new LearnedSecrets();
        gatewayMemory.Learn(Device, LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        gatewayMemory.Learn(Device, LearnedClass.WifiName, "Shared Court"u8);
        gatewayMemory.Learn("OTHERDEVICE00001", LearnedClass.WifiName, "Shared Court"u8);
        using var gateway = ChoiceRegistry.Open(_directory, s_key, null, gatewayMemory);
        var cliMemory = new LearnedSecrets();
        cliMemory.Learn(Device, LearnedClass.WifiSecret, "tulip-Reed-93"u8);

        using (var cli = ChoiceRegistry.Open(_directory, s_key, null, cliMemory))
        {
            var erased = await cli.EraseAsync(Device, "installer:test", ChoiceSource.Cli, default);
            Assert.Equal(1, erased.ForgottenValues);
        }

        Assert.Equal(0, cliMemory.Count);
        Assert.True(gateway.Refresh());
        // The value another device revealed too stays; the device's own secret is gone.
        Assert.Equal(1, gatewayMemory.Count);
        Assert.True(gatewayMemory.Current.Find("Shared Court"u8, 0, out _, out _) == 0);
        Assert.Equal(-1, gatewayMemory.Current.Find("tulip-Reed-93"u8, 0, out _, out _));
    }

    [Fact]
    public async Task The_history_cannot_be_rewritten()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);
        await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization), default);

        using var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, ChoiceRegistry.FileName)};Pooling=false");
        connection.Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE history SET action = 'withdraw';";

        var error = Assert.Throws<SqliteException>(() => update.ExecuteNonQuery());
        Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_request_is_refused_and_changes_nothing()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.LegalCompliance) with { NoticeVersion = "" }, default));

        Assert.Contains("noticeVersion", error.Message, StringComparison.Ordinal);
        Assert.Contains("'legal-compliance' is not processed on consent", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Device, error.Message, StringComparison.Ordinal);
        Assert.Empty(registry.Report(Device).History);
    }

    [Fact]
    public async Task An_erasure_keeps_only_an_audit_entry_naming_the_pseudonym()
    {
        string pseudonym;
        using (var registry = ChoiceRegistry.Open(_directory, s_key, null))
        {
            await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization), default);
            await registry.RecordAsync(Request(ChoiceAction.Objection, Purpose.ProductImprovement), default);
            await registry.RecordAsync(Request(ChoiceAction.Grant, Purpose.Personalization) with { Device = Other }, default);

            var outcome = await registry.EraseAsync(Device, "admin:test", ChoiceSource.Cli, default);

            pseudonym = outcome.Pseudonym;
            Assert.Equal(2, outcome.RemovedRecords);
            Assert.StartsWith(s_key.Id + ".", pseudonym, StringComparison.Ordinal);
            Assert.Same(DeviceChoices.None, registry.Current.Of(Device));
            Assert.True(registry.HasConsent(Purpose.Personalization, Other));
            Assert.Empty(registry.Report(Device).History);
            var erasure = Assert.Single(registry.Erasures());
            Assert.Equal((pseudonym, "admin:test", "cli"), (erasure.Pseudonym, erasure.Actor, erasure.Source));
        }

        // Nothing of the serial is left in the registry's files (secure delete, write-ahead log checkpointed).
        foreach (var file in Directory.GetFiles(_directory, ChoiceRegistry.FileName + "*"))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Device)));
        }
        using var reopened = ChoiceRegistry.Open(_directory, s_key, null);
        Assert.Equal(pseudonym, Assert.Single(reopened.Erasures()).Pseudonym);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void The_registry_file_is_private()
    {
        using var registry = ChoiceRegistry.Open(_directory, s_key, null);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, ChoiceRegistry.FileName)));
    }

    private static ChoiceRequest Request(ChoiceAction action, params Purpose[] purposes) => Request(action, false, purposes);

    private static ChoiceRequest Request(ChoiceAction action, bool allLegitimateInterest, params Purpose[] purposes) =>
        new(Device, action, PurposeSet.Of(purposes), allLegitimateInterest, "2025-09-26", "installer:test", ChoiceSource.Cli);
}
