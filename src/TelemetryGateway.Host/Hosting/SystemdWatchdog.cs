using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// systemd's watchdog (<c>WatchdogSec=</c>): the hosting package reports READY and STOPPING but never
/// <c>WATCHDOG=1</c>, so the gateway sends it itself, at half the interval systemd gives in <c>WATCHDOG_USEC</c>, and
/// only while the receive loop (the site broker) and the delivery loop (the outbox drainer) run: a gateway whose
/// loops died is restarted by systemd even though its process lives on.
/// </summary>
internal sealed partial class SystemdWatchdog(IReceiveLoop receiving, DeliveryService delivery, TimeProvider time, ILogger<SystemdWatchdog> logger) : BackgroundService
{
    /// <summary>Half of <c>WATCHDOG_USEC</c> when the watchdog is on for this process (<c>WATCHDOG_PID</c> unset or ours), else null.</summary>
    public static TimeSpan? Interval(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (string.IsNullOrEmpty(environment("NOTIFY_SOCKET"))
            || !long.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds) || microseconds <= 0)
        {
            return null;
        }
        if (environment("WATCHDOG_PID") is { Length: > 0 } pid
            && (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var watched) || watched != Environment.ProcessId))
        {
            return null;
        }
        return TimeSpan.FromMicroseconds(microseconds / 2.0);
    }

    public bool LoopsAlive => receiving.IsReceiving && delivery.IsRunning;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Interval(Environment.GetEnvironmentVariable) is not { } interval)
        {
            return;
        }
        var notifier = new SystemdNotifier();
        LogEnabled(logger, interval.TotalMilliseconds);
        var withheld = false;
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            if (LoopsAlive)
            {
                notifier.Notify(new ServiceState("WATCHDOG=1"));
                withheld = false;
            }
            else if (!withheld)
            {
                LogWithheld(logger, receiving.IsReceiving, delivery.IsRunning);
                withheld = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = EventIds.WatchdogEnabled, Level = LogLevel.Information, Message = "systemd watchdog: WATCHDOG=1 every {IntervalMs} ms while the receive and delivery loops run")]
    private static partial void LogEnabled(ILogger logger, double intervalMs);

    [LoggerMessage(EventId = EventIds.WatchdogWithheld, Level = LogLevel.Error, Message = "systemd watchdog: not notified (receive loop running: {ReceiveLoop}, delivery loop running: {DeliveryLoop}); systemd will restart the gateway")]
    private static partial void LogWithheld(ILogger logger, bool receiveLoop, bool deliveryLoop);
}
