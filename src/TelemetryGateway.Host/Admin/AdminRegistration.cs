using Microsoft.Extensions.DependencyInjection;

namespace TelemetryGateway.Host.Admin;

/// <summary>Registers the admin listener; features add their endpoints with <see cref="AdminEndpointsRegistration.AddAdminEndpoints{T}"/>.</summary>
internal static class AdminRegistration
{
    public static IServiceCollection AddAdminListener(this IServiceCollection services, AdminOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Enabled)
        {
            return services;
        }
        services.AddSingleton(options);
        services.AddSingleton<AdminListener>();
        services.AddHostedService(sp => sp.GetRequiredService<AdminListener>());
        return services;
    }
}
