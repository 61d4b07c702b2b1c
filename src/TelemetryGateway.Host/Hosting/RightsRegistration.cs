using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Registry;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// The registry of the data subjects' choices in the data directory, composed with the outbox (whose waiting outputs
/// its changes reach) and read by the pipeline's consent, objection and restriction gates.
/// </summary>
internal static class RightsRegistration
{
    public static IServiceCollection AddDataSubjectRights(this IServiceCollection services, string dataDirectory, PseudonymizationKey key, RegistryOptions retention)
    {
        services.AddSingleton(sp => ChoiceRegistry.Open(
            dataDirectory, key, new OutboxWaitingOutputs(
                dataDirectory,
                token => sp.GetRequiredService<SqliteOutbox>().MaintainAsync(token),
                token => sp.GetRequiredService<SqliteOutbox>().BeginRecallAsync(token)),
            sp.GetService<LearnedSecrets>(),
            sp.GetService<TimeProvider>()));
        services.AddSingleton<IDataSubjectRights>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddSingleton<IChoicesSource>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddSingleton<IConsentRegistry>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddHostedService<RegistryRefresher>();
        services.AddHostedService(sp => new RegistryRetentionPass(
            sp.GetRequiredService<ChoiceRegistry>(), retention, sp.GetRequiredService<ILogger<RegistryRetentionPass>>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }
}

/// <summary>
/// Picks up choices recorded by another process (the <c>consent</c> verb while the gateway runs) within a second: a
/// cheap check of SQLite's data version, and a new snapshot only when it changed.
/// </summary>
internal sealed partial class RegistryRefresher(ChoiceRegistry registry, ILogger<RegistryRefresher> logger) : BackgroundService
{
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogOpened(logger, registry.Current.Count);
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (registry.Refresh())
                    {
                        LogRefreshed(logger, registry.Current.Count);
                    }
                }
                catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
                {
                    // The snapshot in use stays; the next tick tries again.
                    LogRefreshFailed(logger, e.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(EventId = EventIds.RegistryOpened, Level = LogLevel.Information, Message = "Consent registry open: {Devices} devices with choices on record")]
    private static partial void LogOpened(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.RegistryRefreshed, Level = LogLevel.Information, Message = "Consent registry changed by another process: {Devices} devices with choices on record")]
    private static partial void LogRefreshed(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.RegistryRefreshFailed, Level = LogLevel.Error, Message = "Consent registry could not be read again ({Error}); the choices in use stay")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}

/// <summary>
/// The registry's retention (notice 8, <c>Gateway:Registry</c>): once at start and then every
/// <see cref="RegistryOptions.RetentionInterval"/>, the choices of devices not changed for the retention end and the
/// history entries past the audit retention that are no longer in effect are deleted (<see cref="ChoiceRegistry.ApplyRetentionAsync"/>).
/// A pass that fails leaves everything as it was; the next one tries again.
/// </summary>
internal sealed partial class RegistryRetentionPass(ChoiceRegistry registry, RegistryOptions options, ILogger<RegistryRetentionPass> logger, TimeProvider time)
    : BackgroundService
{
    private readonly TimeSpan _records = options.RetentionPeriod();
    private readonly TimeSpan _audit = options.AuditRetentionPeriod();

    /// <summary>The passes run so far (for tests and diagnostics).</summary>
    public int Passes => Volatile.Read(ref _passes);

    private int _passes;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.RetentionInterval, time);
        try
        {
            do
            {
                await RunOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    internal async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var outcome = await registry.ApplyRetentionAsync(_records, _audit, cancellationToken);
            if (outcome.ExpiredDevices > 0 || outcome.DeletedEntries > 0)
            {
                LogApplied(logger, outcome.ExpiredDevices, outcome.DeletedEntries, outcome.RemovedWaitingOutputs, outcome.Complete);
            }
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or IOException)
        {
            LogFailed(logger, e.GetType().Name);
        }
        finally
        {
            Interlocked.Increment(ref _passes);
        }
    }

    [LoggerMessage(EventId = EventIds.RegistryRetentionApplied, Level = LogLevel.Information,
        Message = "Consent registry retention: the choices of {Devices} devices ended, {Entries} history entries deleted, {Outputs} waiting outputs removed (all due: {Complete})")]
    private static partial void LogApplied(ILogger logger, int devices, int entries, int outputs, bool complete);

    [LoggerMessage(EventId = EventIds.RegistryRetentionFailed, Level = LogLevel.Error, Message = "Consent registry retention failed ({Error}); the next pass tries again")]
    private static partial void LogFailed(ILogger logger, string error);
}
