using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Registry;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// The registry of the data subjects' choices in the data directory, composed with the outbox (whose waiting outputs
/// its changes reach) and read by the pipeline's consent, objection and restriction gates.
/// </summary>
internal static class RightsRegistration
{
    public static IServiceCollection AddDataSubjectRights(this IServiceCollection services, string dataDirectory, PseudonymizationKey key)
    {
        services.AddSingleton(sp => ChoiceRegistry.Open(
            dataDirectory, key, new OutboxWaitingOutputs(
                dataDirectory,
                token => sp.GetRequiredService<SqliteOutbox>().MaintainAsync(token),
                token => sp.GetRequiredService<SqliteOutbox>().BeginRecallAsync(token)),
            sp.GetService<LearnedSecrets>()));
        services.AddSingleton<IDataSubjectRights>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddSingleton<IChoicesSource>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddSingleton<IConsentRegistry>(sp => sp.GetRequiredService<ChoiceRegistry>());
        services.AddHostedService<RegistryRefresher>();
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
