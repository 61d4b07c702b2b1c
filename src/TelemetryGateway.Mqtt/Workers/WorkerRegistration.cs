using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>Registers a worker ingress (<c>mqtt-shared</c> or <c>amqp</c>) in place of the site broker.</summary>
internal static class WorkerRegistration
{
    /// <summary>
    /// Adds the shared pipeline, quarantine, delivery (which needs a configured upstream: there is no site broker) and
    /// the consumer. Delivery is added first: hosted services stop in reverse order, so it outlives the consumer.
    /// </summary>
    public static IServiceCollection AddWorkerIngress(this IServiceCollection services, MqttGatewaySettings settings)
    {
        if (!settings.Upstream.IsConfigured)
        {
            throw new ArgumentException("A worker ingress needs an upstream URL.", nameof(settings));
        }
        MqttGatewayRegistration.AddPipeline(services);
        services.AddQuarantine(settings.DataDirectory, settings.Quarantine, settings.Security.Limits.QuarantineAggregationInterval);
        if (settings.Upstream.IsAmqp)
        {
            // Before delivery registers the MQTT upstream: the outputs go to an exchange on the cluster instead.
            services.TryAddSingleton<IUpstream>(sp => new AmqpExchangeUpstream(
                settings.Upstream, sp.GetRequiredService<ILogger<AmqpExchangeUpstream>>(), sp.GetRequiredService<TimeProvider>()));
        }
        services.AddDelivery(settings.Delivery);
        services.TryAddSingleton<WorkerPipeline>();
        switch (settings.Ingress.Mode)
        {
            case IngressOptions.MqttShared:
                services.TryAddSingleton(sp => new SharedSubscriptionWorker(
                    settings.Ingress, settings.GatewayId, sp.GetRequiredService<WorkerPipeline>(), sp.GetRequiredService<PolicyGenerations>(),
                    sp.GetRequiredService<ILogger<SharedSubscriptionWorker>>(), sp.GetRequiredService<TimeProvider>()));
                services.AddHostedService(sp => sp.GetRequiredService<SharedSubscriptionWorker>());
                services.TryAddSingleton<IReceiveLoop>(sp => sp.GetRequiredService<SharedSubscriptionWorker>());
                break;
            case IngressOptions.Amqp:
                services.TryAddSingleton(sp => new AmqpQueueWorker(
                    settings.Ingress, settings.GatewayId, sp.GetRequiredService<WorkerPipeline>(),
                    sp.GetRequiredService<ILogger<AmqpQueueWorker>>(), sp.GetRequiredService<TimeProvider>()));
                services.AddHostedService(sp => sp.GetRequiredService<AmqpQueueWorker>());
                services.TryAddSingleton<IReceiveLoop>(sp => sp.GetRequiredService<AmqpQueueWorker>());
                break;
            default:
                throw new ArgumentException($"Ingress mode '{settings.Ingress.Mode}' has no worker.", nameof(settings));
        }
        return services;
    }
}
