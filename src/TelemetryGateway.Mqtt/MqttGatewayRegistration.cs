using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Tls;

namespace TelemetryGateway.Mqtt;

/// <summary>Everything the MQTT side of the gateway needs, in one validated record.</summary>
public sealed record MqttGatewaySettings(
    SiteBrokerOptions Broker, UpstreamOptions Upstream, OutboxOptions Outbox, string DataDirectory, string GatewayId, SecurityOptions Security);

/// <summary>Registers the site broker, the ingress, the outbox and the upstream bridge.</summary>
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
        services.AddSingleton(sp => new CredentialStore(
            settings.Security.CredentialsPath(settings.DataDirectory), sp.GetRequiredService<ILogger<CredentialStore>>()));
        services.AddSingleton(sp => new MinimizerPool(
            sp.GetRequiredService<CompiledPolicy>(), sp.GetRequiredService<PseudonymizationKey>(), sp.GetRequiredService<IConsentRegistry>()));
        services.AddSingleton(sp => SqliteOutbox.Open(settings.DataDirectory, settings.Outbox, sp.GetRequiredService<ILogger<SqliteOutbox>>()));
        services.AddSingleton(sp => new QuarantineLog(
            settings.DataDirectory, sp.GetRequiredService<PseudonymizationKey>(), sp.GetRequiredService<ILogger<QuarantineLog>>(), sp.GetRequiredService<TimeProvider>(),
            settings.Security.Limits.QuarantineAggregationInterval));
        services.AddSingleton(new UpstreamEncoder(settings.Upstream, settings.GatewayId));
        services.AddSingleton(sp => new SiteBroker(
            settings.Broker,
            settings.Upstream,
            kestrel ? sp.GetRequiredService<MqttConnectionHandler>() : null,
            sp.GetRequiredService<SqliteOutbox>(),
            sp.GetRequiredService<MinimizerPool>(),
            sp.GetRequiredService<UpstreamEncoder>(),
            sp.GetRequiredService<QuarantineLog>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            settings.Security,
            sp.GetRequiredService<CredentialStore>(),
            sp.GetRequiredService<CompiledPolicy>(),
            tls));
        services.AddSingleton(sp => sp.GetRequiredService<SiteBroker>().Security);
        services.AddHostedService(sp => sp.GetRequiredService<SiteBroker>());
        return services;
    }
}
