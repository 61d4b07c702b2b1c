using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Admin;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Health;
using TelemetryGateway.Host.Metrics;
using TelemetryGateway.Host.Reload;
using TelemetryGateway.Http;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// The composition root of the running gateway: configuration (appsettings.json, <c>Gateway__*</c> environment
/// variables, command line), validated at start with every error reported at once; the compiled policy, the
/// pseudonymization key, the MQTT gateway on Kestrel or on MQTTnet's own TCP listener, and the HTTP ingress (YARP's
/// <c>ReverseProxy</c> section) on Kestrel when routes are configured.
/// </summary>
internal static class GatewayHost
{
    public const int InvalidConfiguration = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        // Configuration files are read next to the executable, wherever it is started from.
        var webBuilder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        // The shape first (unknown keys, values of the wrong type): the binder would throw at the first one.
        var shapeErrors = ConfigurationShape.Check(webBuilder.Configuration.GetSection(GatewayOptions.SectionName));
        if (shapeErrors.Count > 0)
        {
            return await InvalidAsync(shapeErrors);
        }
        GatewayOptions options;
        try
        {
            options = webBuilder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        }
        catch (InvalidOperationException e)
        {
            return await InvalidAsync([e.Message]);
        }
        var (policy, policyBytes, errors) = Validate(options);
        HttpIngressSettings? http = null;
        if (policy is not null && HttpIngressRegistration.IsConfigured(webBuilder.Configuration))
        {
            var (settings, httpErrors) = HttpIngressRegistration.Validate(webBuilder.Configuration, policy);
            errors.AddRange(httpErrors);
            http = settings;
        }
        if (policy is null || errors.Count > 0)
        {
            return await InvalidAsync(errors);
        }
        PseudonymizationKey key;
        IReadOnlyList<PseudonymizationKey> previousKeys;
        try
        {
            key = options.LoadKey();
            previousKeys = options.LoadPreviousKeys();
        }
        catch (Exception e) when (e is KeyMaterialException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"telemetry-gateway: {e.Message}");
            return InvalidConfiguration;
        }

        try
        {
            // In a worker mode the embedded broker is off, so Kestrel serves only the HTTP ingress, if any.
            var kestrelMqtt = options.Mqtt.Transport == "kestrel" && options.Ingress.IsSiteBroker;
            if (kestrelMqtt || http is not null)
            {
                // Kestrel serves the MQTT listener (kestrel transport), the HTTP ingress listener, or both.
                Register(webBuilder.Services, options, policy, policyBytes!, new DevicePseudonyms(key, previousKeys), key, kestrelMqtt ? webBuilder.WebHost : null);
                if (http is not null)
                {
                    webBuilder.Services.AddHttpIngress(http);
                    webBuilder.WebHost.ConfigureKestrel(kestrel => HttpIngressRegistration.Listen(kestrel, http.Options));
                }
                await using var app = webBuilder.Build();
                if (http is not null)
                {
                    app.UseHttpIngress();
                }
                await app.RunAsync();
            }
            else
            {
                // MQTTnet's own listener and no HTTP routes: no Kestrel, so no HTTP port is opened either.
                var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
                Register(builder.Services, options, policy, policyBytes!, new DevicePseudonyms(key, previousKeys), key, webHost: null);
                using var host = builder.Build();
                await host.RunAsync();
            }
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            // The TLS certificate or key files exist but cannot be used (wrong password, no key, not a certificate).
            await Console.Error.WriteLineAsync($"telemetry-gateway: invalid configuration: Gateway:Security:Tls: the certificate cannot be loaded ({e.Message})");
            return InvalidConfiguration;
        }
        return 0;
    }

    private static async Task<int> InvalidAsync(IReadOnlyList<string> errors)
    {
        await Console.Error.WriteLineAsync($"telemetry-gateway: invalid configuration, {errors.Count} error(s):");
        foreach (var error in errors)
        {
            await Console.Error.WriteLineAsync($"  {error}");
        }
        return InvalidConfiguration;
    }

    private static (CompiledPolicy? Policy, byte[]? PolicyBytes, List<string> Errors) Validate(GatewayOptions options)
    {
        var errors = options.Validate().ToList();
        if (errors.Count > 0 || !File.Exists(options.Policy.Path))
        {
            return (null, null, errors);
        }
        try
        {
            _ = options.Admin.LoadApiKeyHashes();
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{AdminOptions.SectionName}:ApiKeysFile: {e.Message}");
        }
        var bytes = File.ReadAllBytes(options.Policy.Path);
        var compilation = PolicyCompiler.Compile(bytes);
        errors.AddRange(compilation.Errors.Select(e => $"Gateway:Policy:Path ({options.Policy.Path}) {e}"));
        if (compilation.Policy is { } compiled)
        {
            errors.AddRange(StreamLimitErrors(options, compiled));
        }
        var credentialErrors = CredentialsFile.Validate(options.Security.CredentialsPath(options.DataDirectory));
        errors.AddRange(credentialErrors.Select(e => $"Gateway:Security:CredentialsFile: {e}"));
        return (errors.Count == 0 ? compilation.Policy : null, bytes, errors);
    }

    /// <summary>Per-stream limits must name streams of the policy: checked at start and before every reload.</summary>
    private static IEnumerable<string> StreamLimitErrors(GatewayOptions options, CompiledPolicy policy) =>
        options.Security.Limits.MaxPayloadBytesPerStream.Keys
            .Where(stream => !policy.Streams.Any(s => s.Name == stream))
            .Select(stream => $"Gateway:Security:Limits:MaxPayloadBytesPerStream:{stream}: the policy has no stream of that name");

    private static void Register(
        IServiceCollection services, GatewayOptions options, CompiledPolicy policy, byte[] policyBytes, DevicePseudonyms pseudonyms, PseudonymizationKey key,
        Microsoft.AspNetCore.Hosting.IWebHostBuilder? webHost)
    {
        services.AddSingleton(pseudonyms);
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(30));
        // Type=notify: READY=1 once started, STOPPING=1 on stop (only when systemd started the process).
        services.AddSystemd();
        services.AddSingleton(options);
        services.AddSingleton(policy);
        // The policy in service, reloaded from its file on SIGHUP, on a change of the file and on POST /admin/reload.
        var generations = new PolicyGenerations(policy, options.Policy.Path);
        generations.AddValidator(next => StreamLimitErrors(options, next));
        services.AddSingleton(generations);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new PolicyReloader(
            generations, options.Policy.Path, policyBytes, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PolicyReloader>>()));
        services.AddHostedService<ReloadOnHangup>();
        if (options.Policy.WatchInterval > TimeSpan.Zero)
        {
            services.AddHostedService(sp => new PolicyFileWatcher(
                sp.GetRequiredService<PolicyReloader>(), options.Policy.WatchInterval, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PolicyFileWatcher>>()));
        }
        services.AddSingleton(key);
        // What the site's messages revealed, scrubbed from every later output (every minimizer shares it).
        services.AddSingleton(options.LearnedSecrets);
        services.AddSingleton(sp => new LearnedSecrets(options.LearnedSecrets.Limits, sp.GetService<TimeProvider>()));
        services.AddHostedService(sp => new LearnedSecretsKeeper(
            sp.GetRequiredService<LearnedSecrets>(), options.LearnedSecrets, options.DataDirectory, key,
            sp.GetRequiredService<ILogger<LearnedSecretsKeeper>>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddHostedService<PolicyAnnouncer>();
        // Before the broker: it starts first and stops last, so probes and scrapes see the whole run.
        services.AddAdminListener(options.Admin);
        services.AddAdminEndpoints<HealthAdminEndpoints>();
        services.AddAdminEndpoints<PolicyAdminEndpoints>();
        services.AddAdminEndpoints<RightsAdminEndpoints>();
        services.AddGatewayHealthChecks();
        services.AddGatewayMetrics();
        // Registered before the gateway, so that it stops after it and its last report counts everything.
        services.AddHostedService<ProcessingRecordsReporter>();
        services.AddDataSubjectRights(options.DataDirectory, key, options.Registry);
        services.AddMqttGateway(options.MqttSettings, webHost);
        services.AddHostedService<SystemdWatchdog>();
    }
}

/// <summary>Logs, at start, what the gateway enforces: the policy tag, its streams and the key epoch (never the key).</summary>
internal sealed partial class PolicyAnnouncer(CompiledPolicy policy, PseudonymizationKey key, GatewayOptions options, ILogger<PolicyAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogPolicy(logger, policy.Tag, policy.Streams.Count, key.Id);
        if (options.Upstreams.Count > 0)
        {
            foreach (var route in options.Routes)
            {
                LogRegionalUpstream(logger, route.Name, route.Region, route.Options.Endpoint!.Host, options.Site.Region);
            }
            LogUnreachablePurposes(policy, options.Routes.Select(r => r.Region).ToList(), options.Site.Region);
        }
        else if (options.Upstream.IsConfigured)
        {
            var host = options.Upstream.IsAmqp ? options.Upstream.AmqpEndpoints[0].Host : options.Upstream.Endpoint!.Host;
            LogUpstream(logger, host, options.Upstream.TopicPrefix, options.Upstream.Envelope);
            LogUnreachablePurposes(policy, [options.Site.Region], options.Site.Region);
        }
        else
        {
            LogLocalOnly(logger);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = EventIds.PolicyLoaded, Level = LogLevel.Information, Message = "Policy {Policy} loaded: {StreamCount} streams; pseudonymization key {KeyId}")]
    private static partial void LogPolicy(ILogger logger, string policy, int streamCount, string keyId);

    [LoggerMessage(EventId = EventIds.UpstreamConfigured, Level = LogLevel.Information, Message = "Outputs go upstream to {Host} under '{Prefix}/<purpose>/...' (envelope: {Envelope})")]
    private static partial void LogUpstream(ILogger logger, string host, string prefix, string envelope);

    /// <summary>A purpose whose outputs no configured upstream may take is withheld whole: said once at start, not per message.</summary>
    private void LogUnreachablePurposes(CompiledPolicy compiled, IReadOnlyList<string> regions, string siteRegion)
    {
        foreach (var stream in compiled.Streams)
        {
            foreach (var purpose in stream.Purposes)
            {
                if (!regions.Any(region => purpose.Residency.Allows(region, siteRegion, out _)))
                {
                    LogPurposeWithoutDestination(logger, stream.Name, purpose.Purpose.Id(), siteRegion);
                }
            }
        }
    }

    [LoggerMessage(EventId = EventIds.RegionalUpstreamConfigured, Level = LogLevel.Information, Message = "Upstream {Name} (region {Region}) is {Host}; the site's region is {SiteRegion}")]
    private static partial void LogRegionalUpstream(ILogger logger, string name, string region, string host, string siteRegion);

    [LoggerMessage(EventId = EventIds.PurposeWithoutDestination, Level = LogLevel.Warning, Message = "Stream {Stream}, purpose {Purpose}: no configured upstream lies in a region its residency allows "
        + "from the site's region {SiteRegion}; its outputs are withheld (counted as no-destination)")]
    private static partial void LogPurposeWithoutDestination(ILogger logger, string stream, string purpose, string siteRegion);

    [LoggerMessage(EventId = EventIds.LocalOnly, Level = LogLevel.Information, Message = "No upstream configured: outputs are published on this broker under 'filtered/<purpose>/...'")]
    private static partial void LogLocalOnly(ILogger logger);
}
