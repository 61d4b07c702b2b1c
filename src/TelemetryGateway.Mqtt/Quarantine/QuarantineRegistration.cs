using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Keys;

namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary>Registers the quarantine record (<c>quarantine.ndjson</c> and its rotated predecessors in the data directory).</summary>
public static class QuarantineRegistration
{
    /// <summary>Adds the quarantine record; expects a <see cref="PseudonymizationKey"/> to be registered (its digest key is derived from it).</summary>
    public static IServiceCollection AddQuarantine(this IServiceCollection services, string dataDirectory, QuarantineOptions options, TimeSpan aggregationInterval = default)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new QuarantineLog(
            dataDirectory, sp.GetRequiredService<PseudonymizationKey>(), sp.GetRequiredService<ILogger<QuarantineLog>>(), sp.GetRequiredService<TimeProvider>(), options,
            aggregationInterval));
        return services;
    }
}
