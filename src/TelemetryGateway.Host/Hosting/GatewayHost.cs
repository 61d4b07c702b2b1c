using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Host.Configuration;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// The composition root of the running gateway: configuration, validation at start (all errors at once),
/// the compiled policy and the pseudonymization key. The MQTT and HTTP ingress adapters plug in here.
/// </summary>
internal static class GatewayHost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(args);
        var options = builder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        var errors = options.Validate();
        CompiledPolicy? policy = null;
        if (errors.Count == 0)
        {
            var compilation = PolicyCompiler.Compile(File.ReadAllBytes(options.Policy.Path));
            policy = compilation.Policy;
            errors = compilation.Errors.Select(e => $"Gateway:Policy:Path ({options.Policy.Path}) {e}").ToList();
        }
        if (errors.Count > 0 || policy is null)
        {
            await Console.Error.WriteLineAsync($"telemetry-gateway: invalid configuration, {errors.Count} error(s):");
            foreach (var error in errors)
            {
                await Console.Error.WriteLineAsync($"  {error}");
            }
            return 2;
        }
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(policy);
        builder.Services.AddSingleton(_ => options.LoadKey());
        builder.Services.AddHostedService<PolicyAnnouncer>();
        using var host = builder.Build();
        await host.RunAsync();
        return 0;
    }
}

/// <summary>Logs, at start, what the gateway enforces: the policy tag, its streams and the key epoch (never the key).</summary>
internal sealed partial class PolicyAnnouncer(CompiledPolicy policy, Core.Keys.PseudonymizationKey key, ILogger<PolicyAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogPolicy(logger, policy.Tag, policy.Streams.Count, key.Id);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Policy {Policy} loaded: {StreamCount} streams; pseudonymization key {KeyId}")]
    private static partial void LogPolicy(ILogger logger, string policy, int streamCount, string keyId);
}
