using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Ingress;
using TelemetryGateway.Http.Routing;
using TelemetryGateway.Http.Security;

namespace TelemetryGateway.Http;

/// <summary>The HTTP ingress, validated: its listener options, YARP's configuration section and the resolved routes.</summary>
internal sealed record HttpIngressSettings(HttpIngressOptions Options, IConfigurationSection ReverseProxy, IngressRouteCatalog Routes);

/// <summary>Validates, registers and maps the HTTP ingress: Kestrel listener, authentication, YARP with the engine's step.</summary>
internal static class HttpIngressRegistration
{
    public const string SectionName = "Gateway:Http";

    /// <summary>True when YARP's section names at least one route: only then is the listener opened.</summary>
    public static bool IsConfigured(IConfiguration configuration) =>
        configuration.GetSection(IngressRouteCatalog.SectionName).GetSection("Routes").GetChildren().Any();

    /// <summary>Every configuration error of the ingress at once; settings only when there is none.</summary>
    public static (HttpIngressSettings? Settings, IReadOnlyList<string> Errors) Validate(IConfiguration configuration, CompiledPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = configuration.GetSection(SectionName).Get<HttpIngressOptions>() ?? new HttpIngressOptions();
        var errors = options.Validate(SectionName).ToList();
        var reverseProxy = configuration.GetSection(IngressRouteCatalog.SectionName);
        // The site's region (Gateway:Site:Region, validated with the gateway's options): routes are checked against it.
        var siteRegion = configuration["Gateway:Site:Region"] ?? "eea";
        var (catalog, routeErrors) = IngressRouteCatalog.Build(reverseProxy, policy, siteRegion);
        errors.AddRange(routeErrors);
        if (errors.Count == 0 && options.AcceptsApiKeys)
        {
            try
            {
                _ = options.LoadApiKeyHashes();
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{SectionName}:ApiKeysFile: {e.Message}");
            }
        }
        return (errors.Count == 0 ? new HttpIngressSettings(options, reverseProxy, catalog!) : null, errors);
    }

    /// <summary>Adds YARP (from its own section), the engine's step and the authentication it needs.</summary>
    public static IServiceCollection AddHttpIngress(this IServiceCollection services, HttpIngressSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(settings.Options);
        services.AddSingleton(settings.Routes);
        services.AddSingleton(new ApiKeyAuthenticator(settings.Options.AcceptsApiKeys ? settings.Options.LoadApiKeyHashes() : []));
        services.AddSingleton(sp => new IngressCounters(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(sp => new PolicyGenerations(sp.GetRequiredService<CompiledPolicy>()));
        // The gates messages pass (consent, from the MQTT side's registration), or consent with none on record.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPurposeGate, ConsentGate>(
            sp => new ConsentGate(sp.GetService<IConsentRegistry>() ?? NoConsentRecorded.Instance)));
        services.AddSingleton(sp => new HttpIngressGenerations(
            sp.GetRequiredService<PolicyGenerations>(), settings.Routes, settings.ReverseProxy, sp.GetRequiredService<PseudonymizationKey>(),
            [.. sp.GetServices<IPurposeGate>()], sp.GetService<LearnedSecrets>()));
        services.AddHostedService<IngressReporter>();
        // Registered before YARP's own (which it adds with TryAdd): nothing of the client's trace context is forwarded.
        services.AddSingleton<Yarp.ReverseProxy.Forwarder.IForwarderHttpClientFactory, UntracedHttpClientFactory>();
        services.AddReverseProxy()
            .LoadFromConfig(settings.ReverseProxy)
            .AddTransforms(builder => TagTransforms.Apply(builder, settings.Routes));
        return services;
    }

    /// <summary>Opens the ingress listener on Kestrel: plain HTTP, or HTTPS (with client certificates when configured).</summary>
    public static void Listen(KestrelServerOptions kestrel, HttpIngressOptions options)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(options);
        kestrel.Listen(IPAddress.Parse(options.BindAddress), options.Port, listen =>
        {
            if (!options.UsesTls)
            {
                listen.Protocols = HttpProtocols.Http1;
                return;
            }
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = X509Certificate2.CreateFromPemFile(options.CertificateFile!, options.KeyFile);
                if (options.AcceptsClientCertificates)
                {
                    var authority = X509Certificate2.CreateFromPem(File.ReadAllText(options.ClientCaFile!));
                    var validator = new ClientCertificates(authority);
                    https.ClientCertificateMode = options.Authentication == HttpIngressOptions.ClientCertificate
                        ? ClientCertificateMode.RequireCertificate
                        : ClientCertificateMode.AllowCertificate;
                    https.ClientCertificateValidation = validator.Validate;
                }
            });
        });
    }

    /// <summary>Maps the proxy: authentication and 404 first, then per route the engine's step, then YARP's forwarder.</summary>
    public static WebApplication UseHttpIngress(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRouting();
        app.UseMiddleware<IngressAuthentication>();
        app.MapReverseProxy(proxy => proxy.UseMiddleware<IngressMiddleware>());
        return app;
    }
}
