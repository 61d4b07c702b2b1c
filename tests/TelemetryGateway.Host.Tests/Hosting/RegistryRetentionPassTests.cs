using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Hosting;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Registry;

namespace TelemetryGateway.Host.Tests.Hosting;

/// <summary><c>Gateway:Registry</c>: its validation, and the hosted retention pass on a real registry with an injected clock.</summary>
public sealed class RegistryRetentionPassTests
{
    private const string Device = "SERIALCANARY0001";
    private const string Other = "SERIALCANARY0002";
    private static readonly PseudonymizationKey Key = PseudonymizationKey.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)(i * 5)).ToArray());

    [Fact]
    public void The_defaults_are_valid_and_read_as_iso_8601_durations()
    {
        var options = new RegistryOptions();

        Assert.Empty(options.Validate(RegistryOptions.SectionName));
        Assert.Equal(TimeSpan.FromDays(3 * 365), options.RetentionPeriod());
        Assert.Equal(TimeSpan.FromDays((6 * 365) + (2 * 30)), options.AuditRetentionPeriod());
        Assert.Equal(TimeSpan.FromDays(1095), RegistryOptions.ParseDuration("1095.00:00:00"));
        Assert.Equal(TimeSpan.FromHours(12), RegistryOptions.ParseDuration("PT12H"));
    }

    [Fact]
    public void Options_report_every_error_at_once()
    {
        var errors = new RegistryOptions { Retention = "three years", AuditRetention = "-P1D", RetentionInterval = TimeSpan.Zero }
            .Validate(RegistryOptions.SectionName).ToList();

        Assert.Equal(3, errors.Count);
        Assert.Contains("Gateway:Registry:Retention: 'three years' is not a duration such as P3Y (ISO 8601) or 1095.00:00:00", errors);
        Assert.Contains("Gateway:Registry:AuditRetention must be positive and at most 100 years", errors);
        Assert.Contains("Gateway:Registry:RetentionInterval must be between 1 second and 1 day", errors);
    }

    [Fact]
    public void An_audit_retention_shorter_than_the_retention_is_an_error_of_the_gateway_options()
    {
        using var directory = new TempDirectory();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:DataDirectory"] = directory.Path,
            ["Gateway:Policy:Path"] = TestFiles.DefaultPolicy,
            ["Gateway:Registry:Retention"] = "P5Y",
            ["Gateway:Registry:AuditRetention"] = "P1Y",
            ["Gateway:Registry:RetentionInterval"] = "00:10:00",
        }).Build();
        var gateway = configuration.GetSection(GatewayOptions.SectionName);

        Assert.Empty(ConfigurationShape.Check(gateway));
        var options = gateway.Get<GatewayOptions>()!;
        Assert.Equal(TimeSpan.FromMinutes(10), options.Registry.RetentionInterval);
        var error = Assert.Single(options.Validate());
        Assert.Equal("Gateway:Registry:AuditRetention (P1Y) must be at least Retention (P5Y): the history of a choice outlives the choice", error);
    }

    [Fact]
    public void An_unknown_registry_setting_is_rejected()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Registry:Retension"] = "P3Y",
        }).Build();

        var error = Assert.Single(ConfigurationShape.Check(configuration.GetSection(GatewayOptions.SectionName)));
        Assert.StartsWith("Gateway:Registry:Retension: unknown setting", error, StringComparison.Ordinal);
        Assert.Contains("AuditRetention", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pass_runs_at_start_and_then_every_interval_with_the_injected_clock()
    {
        using var directory = new TempDirectory();
        var clock = new SettableClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new RegistryOptions { Retention = "P3Y", AuditRetention = "P6Y", RetentionInterval = TimeSpan.FromSeconds(1) };
        using var registry = ChoiceRegistry.Open(directory.Path, Key, null, time: clock);
        await registry.RecordAsync(Grant(Device), default);
        clock.Advance(TimeSpan.FromDays(3 * 365));
        await registry.RecordAsync(Grant(Other), default);
        using var pass = new RegistryRetentionPass(registry, options, NullLogger<RegistryRetentionPass>.Instance, clock);

        await pass.StartAsync(CancellationToken.None);
        try
        {
            // At start: the device granted 3 years ago has no consent any more; the other, granted now, keeps it.
            await WaitUntil(() => pass.Passes >= 1);
            Assert.False(registry.HasConsent(Purpose.Personalization, Device));
            Assert.True(registry.HasConsent(Purpose.Personalization, Other));

            // One interval later, 3 years on by the injected clock: the other device's consent has ended too.
            clock.Advance(TimeSpan.FromDays(3 * 365));
            var before = pass.Passes;
            await WaitUntil(() => pass.Passes > before);
            Assert.False(registry.HasConsent(Purpose.Personalization, Other));
            Assert.Equal(0, registry.Current.Count);
            // The grants are history, kept for the audit retention; the report (CLI and admin API) says when they ended.
            Assert.Single(registry.Report(Other).History);
            var output = new StringWriter();
            Host.Cli.ConsentCommand.WriteReport(output, registry.Report(Other), new Host.Configuration.DevicePseudonyms(Key, []).Of(Other));
            using var report = System.Text.Json.JsonDocument.Parse(output.ToString());
            Assert.Equal([clock.GetUtcNow()], report.RootElement.GetProperty("expiries").EnumerateArray().Select(e => e.GetDateTimeOffset()));
            Assert.Empty(report.RootElement.GetProperty("consents").EnumerateArray());
        }
        finally
        {
            await pass.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_pass_removes_the_expired_device_s_waiting_outputs_that_needed_its_consent()
    {
        using var directory = new TempDirectory();
        await using (var outbox = SqliteOutbox.Open(directory.Path, new OutboxOptions(), NullLogger.Instance))
        {
            await outbox.AppendAsync([Output("personalization", "consent"), Output("after-sales-service", "contract")], CancellationToken.None);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var clock = new SettableClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var waiting = new OutboxWaitingOutputs(directory.Path);
        using var registry = ChoiceRegistry.Open(directory.Path, Key, waiting, time: clock);
        await registry.RecordAsync(Grant(Device), default);
        clock.Advance(TimeSpan.FromDays(3 * 365));
        using var pass = new RegistryRetentionPass(registry, new RegistryOptions(), NullLogger<RegistryRetentionPass>.Instance, clock);
        Assert.Equal(2, waiting.CountWaiting(Device));

        await pass.RunOnceAsync(CancellationToken.None);

        Assert.False(registry.HasConsent(Purpose.Personalization, Device));
        // The contract output needs no consent and stays; the personalization one is gone.
        Assert.Equal(1, waiting.CountWaiting(Device));
    }

    private static UpstreamMessage Output(string purpose, string basis) =>
        new($"t/{purpose}", [1, 2, 3], "application/json", purpose, basis, "settings", "x@1", "P1Y", 0, "settings", Device);

    private static ChoiceRequest Grant(string device) =>
        new(device, ChoiceAction.Grant, PurposeSet.Of([Purpose.Personalization]), false, "2025-09-26", "installer:test", ChoiceSource.Cli);

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the retention pass did not run within 15 s");
            await Task.Delay(20);
        }
    }

    /// <summary>A clock the test moves; timers are the system's, so the pass's interval elapses in real time.</summary>
    private sealed class SettableClock(DateTimeOffset start) : TimeProvider
    {
        private long _ticks = start.UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
