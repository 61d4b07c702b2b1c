using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Host.Admin;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Host.Health;

/// <summary>
/// The gateway's health checks. Liveness: the receive loop (the site broker runs) and the delivery loop (the outbox
/// drainer runs). Readiness: a policy is in service, the listeners are bound, the outbox is writable and under its
/// high-water mark, and at least one upstream is connected or the outbox accepts outputs for later.
/// </summary>
internal static class GatewayHealthChecks
{
    /// <summary>The share of the outbox's message or byte limit past which the gateway reports not ready.</summary>
    public const double OutboxHighWater = 0.9;

    public static IServiceCollection AddGatewayHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .Add(Check("receive-loop", [HealthAdminEndpoints.Live], sp => ReceiveLoop(sp.GetRequiredService<IReceiveLoop>())))
            .Add(Check("delivery-loop", [HealthAdminEndpoints.Live], sp => DeliveryLoop(sp.GetRequiredService<DeliveryService>())))
            .Add(Check("policy", [HealthAdminEndpoints.Ready], sp => Policy(sp.GetRequiredService<PolicyGenerations>())))
            .Add(Check("listeners", [HealthAdminEndpoints.Ready], sp => ReceiveLoop(sp.GetRequiredService<IReceiveLoop>())))
            .Add(Check("outbox", [HealthAdminEndpoints.Ready], sp => Outbox(sp.GetRequiredService<SqliteOutbox>())))
            .Add(Check("upstream", [HealthAdminEndpoints.Ready], sp => Upstream(sp.GetRequiredService<Destinations>(), sp.GetRequiredService<SqliteOutbox>())));
        return services;
    }

    public static HealthCheckResult ReceiveLoop(IReceiveLoop loop) =>
        loop.IsReceiving ? HealthCheckResult.Healthy(loop.Name + " runs") : HealthCheckResult.Unhealthy(loop.Name + " is not running");

    public static HealthCheckResult DeliveryLoop(DeliveryService delivery) =>
        delivery.IsRunning ? HealthCheckResult.Healthy("the outbox drainer runs") : HealthCheckResult.Unhealthy("the outbox drainer is not running");

    public static HealthCheckResult Policy(PolicyGenerations generations) =>
        HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"{generations.Current.Policy.Tag}, generation {generations.Current.Number}"));

    public static HealthCheckResult Outbox(SqliteOutbox outbox)
    {
        if (!outbox.IsWritable)
        {
            return HealthCheckResult.Unhealthy("the outbox cannot be written (disk full or writer stopped)");
        }
        var limits = outbox.Limits;
        if (outbox.Count >= limits.MaxMessages * OutboxHighWater || outbox.Bytes >= limits.MaxBytes * OutboxHighWater)
        {
            return HealthCheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture,
                $"the outbox is past its high-water mark ({outbox.Count} of {limits.MaxMessages} outputs, {outbox.Bytes} of {limits.MaxBytes} bytes)"));
        }
        return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"{outbox.Count} outputs waiting"));
    }

    public static HealthCheckResult Upstream(IUpstream upstream, SqliteOutbox outbox) =>
        upstream.IsConnected ? HealthCheckResult.Healthy("connected")
        : outbox.IsWritable ? HealthCheckResult.Healthy("not connected; the outbox keeps outputs for later")
        : HealthCheckResult.Unhealthy("not connected, and the outbox cannot take outputs");

    /// <summary>Every region's upstream (notice §7): healthy while each is connected or the outbox keeps what waits for it.</summary>
    public static HealthCheckResult Upstream(Destinations destinations, SqliteOutbox outbox)
    {
        if (destinations.All.Count == 1)
        {
            return Upstream(destinations.All[0].Upstream, outbox);
        }
        var down = destinations.All.Where(d => !d.Upstream.IsConnected).Select(d => d.Region).ToList();
        return down.Count == 0 ? HealthCheckResult.Healthy("connected (" + string.Join(", ", destinations.All.Select(d => d.Region)) + ")")
            : outbox.IsWritable ? HealthCheckResult.Healthy("not connected: " + string.Join(", ", down) + "; the outbox keeps their outputs for later")
            : HealthCheckResult.Unhealthy("not connected: " + string.Join(", ", down) + ", and the outbox cannot take outputs");
    }

    private static HealthCheckRegistration Check(string name, string[] tags, Func<IServiceProvider, HealthCheckResult> check) =>
        new(name, sp => new DelegateCheck(() => check(sp)), HealthStatus.Unhealthy, tags);

    private sealed class DelegateCheck(Func<HealthCheckResult> check) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) => Task.FromResult(check());
    }
}
