using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;
using TelemetryGateway.Mqtt.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>Where minimized outputs go and how: the upstream, its encoding, the durable outbox and what drains it.</summary>
public sealed record DeliverySettings(UpstreamOptions Upstream, OutboxOptions Outbox, string DataDirectory, string GatewayId);

/// <summary>Registers delivery as a feature of its own: encoder, upstream, outbox (with dead letters), direct delivery and the drainer.</summary>
public static class DeliveryRegistration
{
    /// <summary>
    /// Adds delivery. Each service is added with TryAdd, so a test or another host may register its own first. With no
    /// upstream URL the outputs go to the site broker's <c>filtered/...</c> topics, which needs its <see cref="MqttServer"/>.
    /// </summary>
    public static IServiceCollection AddDelivery(this IServiceCollection services, DeliverySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new MqttInstruments(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(new UpstreamEncoder(settings.Upstream, settings.GatewayId));
        services.TryAddSingleton(sp => SqliteOutbox.Open(
            settings.DataDirectory, settings.Outbox, sp.GetRequiredService<ILogger<SqliteOutbox>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IUpstream>(sp => settings.Upstream.IsConfigured
            ? new MqttUpstream(
                settings.Upstream, sp.GetRequiredService<ILogger<MqttUpstream>>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<MqttInstruments>())
            : new SiteBrokerUpstream(sp.GetRequiredService<MqttServer>()));
        services.TryAddSingleton<UpstreamDelivery>();
        services.TryAddSingleton(sp => new OutboxDrainer(
            sp.GetRequiredService<SqliteOutbox>(),
            sp.GetRequiredService<IUpstream>(),
            sp.GetRequiredService<ILogger<OutboxDrainer>>(),
            DrainerSettings.From(settings.Upstream, sp.GetRequiredService<TimeProvider>())));
        services.TryAddSingleton<DeliveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryService>());
        // After delivery, so it stops before delivery does (its last windows are flushed into a running delivery); it
        // needs the pipeline's policy generations, which every ingress registers before delivery.
        services.TryAddSingleton<Aggregation.AggregateReleaser>();
        services.AddHostedService(sp => sp.GetRequiredService<Aggregation.AggregateReleaser>());
        return services;
    }
}
