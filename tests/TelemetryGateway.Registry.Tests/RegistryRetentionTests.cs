using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using Xunit.Abstractions;

namespace TelemetryGateway.Registry.Tests;

/// <summary>The registry's retention (notice 8) on a real SQLite file, with an injected clock.</summary>
public sealed class RegistryRetentionTests(ITestOutputHelper output) : IDisposable
{
    private const string Device = "SERIALCANARY0001";
    private const string Other = "SERIALCANARY0002";
    private static readonly TimeSpan s_records = TimeSpan.FromDays(3 * 365);
    private static readonly TimeSpan s_audit = TimeSpan.FromDays(6 * 365);
    private static readonly PseudonymizationKey s_key = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly string _directory = Directory.CreateTempSubdirectory("registry-retention-tests-").FullName;
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Choices_not_changed_for_the_retention_end_and_the_device_has_no_consent()
    {
        using var registry = Open();
        await registry.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Personalization), default);
        await registry.RecordAsync(Request(Other, ChoiceAction.Grant, Purpose.Personalization), default);
        _clock.Advance(s_records - TimeSpan.FromDays(1));
        await registry.RecordAsync(Request(Other, ChoiceAction.Grant, Purpose.Marketing), default);

        var early = await registry.ApplyRetentionAsync(s_records, s_audit, default);
        Assert.Equal(0, early.ExpiredDevices);
        Assert.True(registry.HasConsent(Purpose.Personalization, Device));

        _clock.Advance(TimeSpan.FromDays(2));
        var due = await registry.ApplyRetentionAsync(s_records, s_audit, default);

        Assert.Equal(1, due.ExpiredDevices);
        Assert.Equal(0, due.DeletedEntries);
        Assert.True(due.Complete);
        Assert.False(registry.HasConsent(Purpose.Personalization, Device));
        Assert.Same(DeviceChoices.None, registry.Current.Of(Device));
        // The other device changed its choices a day before: they stand, the older grant included.
        Assert.True(registry.HasConsent(Purpose.Personalization, Other));
        // The grant stays in the history (the audit record) until the audit retention; the report says when it ended.
        Assert.Single(registry.Report(Device).History);
        Assert.Equal([_clock.GetUtcNow()], registry.Report(Device).Expiries!);
        Assert.Empty(registry.Report(Other).Expiries!);
        Assert.Equal([("grant", "installer:test"), ("expire", "retention")], Rows(Device).Select(r => (r.Action, r.Actor)));

        // A second pass changes nothing, and the registry opened again folds the same.
        Assert.Equal(0, (await registry.ApplyRetentionAsync(s_records, s_audit, default)).ExpiredDevices);
        using var reopened = Open();
        Assert.False(reopened.HasConsent(Purpose.Personalization, Device));
        Assert.True(reopened.HasConsent(Purpose.Personalization, Other));
    }

    [Fact]
    public async Task An_objection_and_a_restriction_end_with_the_records_too()
    {
        using var registry = Open();
        await registry.RecordAsync(Request(Device, ChoiceAction.Objection, Purpose.ProductImprovement), default);
        await registry.RecordAsync(Request(Device, ChoiceAction.Restrict, Purpose.Diagnostics), default);
        _clock.Advance(s_records);

        await registry.ApplyRetentionAsync(s_records, s_audit, default);

        Assert.Null(registry.Current.Of(Device).Refusal(Purpose.ProductImprovement, LegalBasis.LegitimateInterest));
    }

    [Fact]
    public async Task A_grant_after_the_expiry_starts_afresh()
    {
        using var registry = Open();
        await registry.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Marketing), default);
        _clock.Advance(s_records);
        await registry.ApplyRetentionAsync(s_records, s_audit, default);
        _clock.Advance(TimeSpan.FromDays(1));

        await registry.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Personalization), default);

        Assert.True(registry.HasConsent(Purpose.Personalization, Device));
        Assert.False(registry.HasConsent(Purpose.Marketing, Device));
        using var reopened = Open();
        Assert.True(reopened.HasConsent(Purpose.Personalization, Device));
        Assert.False(reopened.HasConsent(Purpose.Marketing, Device));
    }

    [Fact]
    public async Task Entries_are_deleted_only_past_the_audit_retention_and_only_when_no_longer_in_effect()
    {
        var year = TimeSpan.FromDays(365);
        var start = _clock.GetUtcNow();
        using var registry = Open();
        await registry.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Personalization), default);
        // The other device's grant grows older than the audit retention but stays in effect: it changes other choices.
        await registry.RecordAsync(Request(Other, ChoiceAction.Grant, Purpose.Marketing), default);
        _clock.Advance(2 * year);
        await registry.RecordAsync(Request(Other, ChoiceAction.Objection, Purpose.ProductImprovement), default);
        _clock.Advance(year);
        Assert.Equal(1, (await registry.ApplyRetentionAsync(s_records, s_audit, default)).ExpiredDevices);
        _clock.Advance(year);
        await registry.RecordAsync(Request(Other, ChoiceAction.Objection, Purpose.Diagnostics), default);

        // 6 years after the grants, less a day: everything is still there.
        _clock.AdvanceTo(start + s_audit - TimeSpan.FromDays(1));
        Assert.Equal(0, (await registry.ApplyRetentionAsync(s_records, s_audit, default)).DeletedEntries);
        Assert.Equal(2, Rows(Device).Count);

        // Past 6 years: the expired grant goes, its expire entry stays until it is 6 years old itself; the other
        // device's grant, as old but in effect, stays.
        _clock.AdvanceTo(start + s_audit + TimeSpan.FromDays(1));
        Assert.Equal(1, (await registry.ApplyRetentionAsync(s_records, s_audit, default)).DeletedEntries);
        Assert.Equal(["expire"], Rows(Device).Select(r => r.Action));
        Assert.Equal(3, Rows(Other).Count);
        Assert.True(registry.HasConsent(Purpose.Marketing, Other));

        // 9 years: the expire entry goes; the other device's choices expired (5 years without a change) and its
        // entries older than 6 years go with it; the last one stays, history now.
        _clock.AdvanceTo(start + s_audit + s_records + TimeSpan.FromDays(1));
        var last = await registry.ApplyRetentionAsync(s_records, s_audit, default);
        Assert.Equal(1, last.ExpiredDevices);
        Assert.Equal(3, last.DeletedEntries);
        Assert.Empty(Rows(Device));
        Assert.Empty(registry.Report(Device).History);
        Assert.False(registry.HasConsent(Purpose.Personalization, Device));
        Assert.Equal(["object", "expire"], Rows(Other).Select(r => r.Action));
        Assert.False(registry.HasConsent(Purpose.Marketing, Other));
        Assert.Null(registry.Current.Of(Other).Refusal(Purpose.Diagnostics, LegalBasis.LegitimateInterest));
    }

    [Fact]
    public async Task The_audit_entry_of_an_erasure_is_kept_for_the_audit_retention()
    {
        using var registry = Open();
        await registry.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Personalization), default);
        await registry.EraseAsync(Device, "cli:test", ChoiceSource.Cli, default);

        _clock.Advance(s_audit - TimeSpan.FromDays(1));
        await registry.ApplyRetentionAsync(s_records, s_audit, default);
        Assert.Single(registry.Erasures());

        _clock.Advance(TimeSpan.FromDays(2));
        var outcome = await registry.ApplyRetentionAsync(s_records, s_audit, default);
        Assert.Equal(1, outcome.DeletedEntries);
        Assert.Empty(registry.Erasures());
    }

    [Fact]
    public async Task A_pass_in_the_gateway_is_seen_by_another_process()
    {
        using var gateway = Open();
        using var cli = Open();
        await cli.RecordAsync(Request(Device, ChoiceAction.Grant, Purpose.Personalization), default);
        Assert.True(gateway.Refresh());
        _clock.Advance(s_records);

        await gateway.ApplyRetentionAsync(s_records, s_audit, default);

        Assert.True(cli.Refresh());
        Assert.False(cli.HasConsent(Purpose.Personalization, Device));
    }

    [Fact]
    public async Task One_pass_ends_the_choices_of_2000_devices_and_deletes_their_entries_later()
    {
        const int devices = 2000;
        using var registry = Open();
        for (var i = 0; i < devices; i++)
        {
            await registry.RecordAsync(Request($"SERIALCANARY{i:D5}", ChoiceAction.Grant, Purpose.Personalization), default);
        }
        _clock.Advance(s_records);

        var watch = Stopwatch.StartNew();
        var expiry = await registry.ApplyRetentionAsync(s_records, s_audit, default);
        var expiryTime = watch.Elapsed;
        _clock.Advance(s_audit);
        watch.Restart();
        var deletion = await registry.ApplyRetentionAsync(s_records, s_audit, default);
        var deletionTime = watch.Elapsed;

        Assert.Equal((devices, 0, true), (expiry.ExpiredDevices, expiry.DeletedEntries, expiry.Complete));
        Assert.Equal(0, registry.Current.Count);
        Assert.Equal(2 * devices, deletion.DeletedEntries);
        Assert.Empty(Rows("SERIALCANARY00000"));
        output.WriteLine($"retention pass: {devices} devices expired in {expiryTime.TotalMilliseconds:F0} ms, {2 * devices} entries deleted in {deletionTime.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task An_audit_retention_shorter_than_the_retention_is_refused()
    {
        using var registry = Open();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.ApplyRetentionAsync(s_audit, s_records, default));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.ApplyRetentionAsync(TimeSpan.Zero, s_records, default));
    }

    private ChoiceRegistry Open() => ChoiceRegistry.Open(_directory, s_key, null, time: _clock);

    private List<(string Action, string Actor)> Rows(string device)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, ChoiceRegistry.FileName)};Pooling=false;Mode=ReadOnly");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT action, actor FROM history WHERE device = $device ORDER BY seq;";
        select.Parameters.AddWithValue("$device", device);
        using var reader = select.ExecuteReader();
        var rows = new List<(string, string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows;
    }

    private static ChoiceRequest Request(string device, ChoiceAction action, params Purpose[] purposes) =>
        new(device, action, PurposeSet.Of(purposes), false, "2025-09-26", "installer:test", ChoiceSource.Cli);
}

/// <summary>A clock the test moves; timers are the system's.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public void AdvanceTo(DateTimeOffset time) => Interlocked.Exchange(ref _ticks, time.UtcTicks);
}
