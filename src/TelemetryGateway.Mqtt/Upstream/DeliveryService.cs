using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Runs the outbox drainers (one per upstream's region, side by side) for the gateway's lifetime. Registered before the site broker, so it starts first and stops
/// last: by the time it stops, no device can hand over more work, and it flushes what it can for up to 10 seconds.
/// </summary>
internal sealed partial class DeliveryService(Destinations destinations, SqliteOutbox outbox, ILogger<DeliveryService> logger)
    : IHostedService, IDisposable
{
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _draining;

    /// <summary>The drainer's loop runs (liveness).</summary>
    public bool IsRunning => _draining is { IsCompleted: false };

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _draining = Task.WhenAll(destinations.All.Select(d => Task.Run(() => d.Drainer.RunAsync(s_flushTimeout, _stopping.Token), CancellationToken.None)));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_draining is not null)
        {
            await _draining;
        }
        LogStopped(
            logger, destinations.DeliveredDirectly + destinations.DeliveredFromOutbox, outbox.Count, destinations.Rejected, outbox.Expired, outbox.Dropped);
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(EventId = EventIds.DeliveryStopped, Level = LogLevel.Information, Message = "Delivery stopped; {Delivered} outputs delivered, {Stored} left in the outbox for the next start; "
        + "{Rejected} rejected by the upstream (dead letters), {Expired} past their retention, {Dropped} dropped because the outbox was full")]
    private static partial void LogStopped(ILogger logger, long delivered, long stored, long rejected, long expired, long dropped);
}
