using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;
using TelemetryGateway.Mqtt.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>Where minimized outputs go and how: the upstream, its encoding, the durable outbox and what drains it.</summary>
public sealed record DeliverySettings(UpstreamOptions Upstream, OutboxOptions Outbox, string DataDirectory, string GatewayId)
{
    /// <summary>The site's region (notice §7).</summary>
    public string SiteRegion { get; init; } = "eea";

    /// <summary>The upstreams, one per region; by default <see cref="Upstream"/> alone, as the site region's.</summary>
    public IReadOnlyList<UpstreamRoute>? Routes { get; init; }

    internal IReadOnlyList<UpstreamRoute> EffectiveRoutes => Routes ?? [new UpstreamRoute(Residencies.SingleUpstreamName, SiteRegion, Upstream)];

    /// <summary>Outputs go to cloud brokers (else to the site broker's <c>filtered/...</c> topics).</summary>
    internal bool IsRemote => EffectiveRoutes.Any(r => r.Options.IsConfigured);
}

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
        var routes = settings.EffectiveRoutes;
        services.TryAddSingleton(sp => SqliteOutbox.Open(
            settings.DataDirectory, settings.Outbox, sp.GetRequiredService<ILogger<SqliteOutbox>>(), sp.GetRequiredService<TimeProvider>(),
            earlierDestination: settings.SiteRegion));
        if (routes.Count == 1)
        {
            // The single upstream (or the site broker) as a service of its own, so a test or another host may replace it.
            services.TryAddSingleton<IUpstream>(sp => NewUpstream(sp, routes[0].Options));
        }
        services.TryAddSingleton(sp =>
        {
            var outbox = sp.GetRequiredService<SqliteOutbox>();
            var time = sp.GetRequiredService<TimeProvider>();
            var destinations = new List<Destination>(routes.Count);
            foreach (var route in routes)
            {
                var upstream = routes.Count == 1 ? sp.GetRequiredService<IUpstream>() : NewUpstream(sp, route.Options);
                destinations.Add(new Destination(
                    route,
                    upstream,
                    new UpstreamDelivery(upstream, outbox, sp.GetRequiredService<ILogger<UpstreamDelivery>>(), route.Region),
                    new OutboxDrainer(outbox, upstream, sp.GetRequiredService<ILogger<OutboxDrainer>>(), DrainerSettings.From(route.Options, time), route.Region)));
            }
            return new Destinations(settings.SiteRegion, destinations, ownsUpstreams: routes.Count > 1);
        });
        services.TryAddSingleton(sp => new UpstreamEncoder(
            settings.Upstream, settings.GatewayId, sp.GetRequiredService<Destinations>().Routing, settings.IsRemote));
        services.TryAddSingleton<DeliveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryService>());
        // After delivery, so it stops before delivery does (its last windows are flushed into a running delivery); it
        // needs the pipeline's policy generations, which every ingress registers before delivery.
        services.TryAddSingleton<Aggregation.AggregateReleaser>();
        services.AddHostedService(sp => sp.GetRequiredService<Aggregation.AggregateReleaser>());
        return services;
    }

    private static IUpstream NewUpstream(IServiceProvider sp, UpstreamOptions options) => options.IsConfigured
        ? new MqttUpstream(options, sp.GetRequiredService<ILogger<MqttUpstream>>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<MqttInstruments>())
        : new SiteBrokerUpstream(sp.GetRequiredService<MqttServer>());
}
