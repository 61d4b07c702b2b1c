using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Server;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Mqtt.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Rights;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Tls;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Mqtt;

/// <summary>Everything the MQTT side of the gateway needs, in one validated record.</summary>
public sealed record MqttGatewaySettings(
    SiteBrokerOptions Broker, UpstreamOptions Upstream, OutboxOptions Outbox, string DataDirectory, string GatewayId, SecurityOptions Security,
    QuarantineOptions Quarantine)
{
    /// <summary>Where messages come from: the site broker (the default) or a cluster, as one of N workers.</summary>
    public IngressOptions Ingress { get; init; } = new();

    /// <summary><c>Gateway:Site</c>: the site's region.</summary>
    public SiteOptions Site { get; init; } = new();

    /// <summary><c>Gateway:Upstreams</c>: one upstream per region; none: <see cref="Upstream"/> is the site region's.</summary>
    public IReadOnlyDictionary<string, RegionalUpstreamOptions> Upstreams { get; init; } = new Dictionary<string, RegionalUpstreamOptions>();

    public DeliverySettings Delivery => new(Upstream, Outbox, DataDirectory, GatewayId)
    {
        SiteRegion = Site.Region,
        Routes = Residencies.Routes(Upstream, Upstreams, Site),
    };
}

/// <summary>Registers the site broker and its ingress, with quarantine and delivery (each its own feature, composed here).</summary>
public static class MqttGatewayRegistration
{
    /// <summary>
    /// Adds the MQTT gateway. <paramref name="webHost"/> is required for the <c>kestrel</c> transport (the MQTT listener
    /// is then a Kestrel endpoint on System.IO.Pipelines) and ignored for <c>tcp</c>. Expects a
    /// <see cref="CompiledPolicy"/> and a <see cref="PseudonymizationKey"/> to be registered.
    /// </summary>
    public static IServiceCollection AddMqttGateway(this IServiceCollection services, MqttGatewaySettings settings, IWebHostBuilder? webHost)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IConsentRegistry>(NoConsentRecorded.Instance);
        services.TryAddSingleton(sp => new MqttInstruments(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        if (!settings.Ingress.IsSiteBroker)
        {
            return services.AddWorkerIngress(settings);
        }
        var kestrel = settings.Broker.Transport == "kestrel";
        // Loaded here so that an unusable certificate stops the start with a clear error, not at the first connection.
        var tls = settings.Security.Tls.Enabled ? TlsCredentials.Load(settings.Security.Tls) : null;
        if (tls is not null)
        {
            services.AddSingleton(tls);
        }
        if (kestrel)
        {
            if (webHost is null)
            {
                throw new ArgumentException("The kestrel transport needs the web host builder.", nameof(webHost));
            }
            services.AddSingleton<MqttConnectionHandler>();
            webHost.ConfigureKestrel(kestrelOptions =>
                SecurityRegistration.ConfigureKestrelListeners(kestrelOptions, settings.Broker, settings.Security, tls));
        }
        services.TryAddSingleton(sp => new CredentialStore(
            settings.Security.CredentialsPath(settings.DataDirectory), sp.GetRequiredService<ILogger<CredentialStore>>()));
        AddPipeline(services);
        services.TryAddSingleton(sp => SiteBrokerServer.Create(
            settings.Broker, settings.Security, tls, kestrel ? sp.GetRequiredService<MqttConnectionHandler>() : null));
        services.AddQuarantine(settings.DataDirectory, settings.Quarantine, settings.Security.Limits.QuarantineAggregationInterval);
        // Before the broker: hosted services start in this order and stop in the reverse one, so delivery outlives the broker.
        services.AddDelivery(settings.Delivery);
        services.TryAddSingleton<TelemetryIngress>();
        services.TryAddSingleton(sp => new ConsentIngress(sp.GetService<IDataSubjectRights>(), sp.GetRequiredService<ILogger<ConsentIngress>>()));
        services.TryAddSingleton(sp => new DeviceSecurity(
            settings.Security,
            sp.GetRequiredService<CredentialStore>(),
            countConnectionsAtConnect: !kestrel,
            sp.GetRequiredService<TelemetryIngress>().IsMqtt5,
            SiteBroker.Disconnector(sp.GetRequiredService<MqttServer>()),
            sp.GetRequiredService<ILogger<DeviceSecurity>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new SiteBroker(
            settings.Broker,
            sp.GetRequiredService<MqttServer>(),
            sp.GetRequiredService<TelemetryIngress>(),
            sp.GetRequiredService<DeviceSecurity>(),
            sp.GetRequiredService<SqliteOutbox>(),
            sp.GetRequiredService<QuarantineLog>(),
            settings.Security,
            tls,
            sp.GetRequiredService<ILogger<SiteBroker>>(),
            sp.GetRequiredService<ConsentIngress>()));
        services.AddHostedService(sp => sp.GetRequiredService<SiteBroker>());
        services.TryAddSingleton<IReceiveLoop>(sp => new SiteBrokerReceiveLoop(sp.GetRequiredService<MqttServer>()));
        return services;
    }

    /// <summary>The pipeline every ingress shares: gates, the policy generations and the minimizers.</summary>
    internal static void AddPipeline(IServiceCollection services)
    {
        // The pipeline's gate step, in order: consent, objection, restriction (the data subject's choices; none on record
        // unless a registry is registered).
        services.TryAddSingleton<IChoicesSource>(NoChoicesRecorded.Instance);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPurposeGate, ConsentGate>(sp => new ConsentGate(sp.GetRequiredService<IConsentRegistry>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPurposeGate, ObjectionGate>(sp => new ObjectionGate(sp.GetRequiredService<IChoicesSource>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPurposeGate, RestrictionGate>(sp => new RestrictionGate(sp.GetRequiredService<IChoicesSource>())));
        // The policy in service as generations; a host that can reload registers its own (with the policy file's path).
        services.TryAddSingleton(sp => new PolicyGenerations(sp.GetRequiredService<CompiledPolicy>()));
        services.TryAddSingleton(sp => new MinimizerPool(
            sp.GetRequiredService<PolicyGenerations>(), sp.GetRequiredService<PseudonymizationKey>(), [.. sp.GetServices<IPurposeGate>()],
            sp.GetService<LearnedSecrets>()));
    }

}
