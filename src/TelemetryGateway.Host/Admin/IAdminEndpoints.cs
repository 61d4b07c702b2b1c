using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// The seam through which a feature adds endpoints to the admin listener (metrics, health and policy are three; the
/// consent and rights API is another). Register an implementation with
/// <see cref="AdminEndpointsRegistration.AddAdminEndpoints{T}"/>; it is resolved from the gateway's own services, so
/// it takes what its handlers need in its constructor (the admin listener is a separate web application whose
/// container knows none of the gateway's services). Every endpoint needs the admin key when one is required, unless
/// it is marked with <see cref="AdminEndpointsRegistration.AllowWithoutAdminKey{TBuilder}"/>.
/// </summary>
internal interface IAdminEndpoints
{
    void Map(IEndpointRouteBuilder admin);
}

/// <summary>Marks an admin endpoint that needs no key (health probes: they carry no data, and orchestrators call them bare).</summary>
internal sealed class OpenAdminEndpoint
{
    public static OpenAdminEndpoint Instance { get; } = new();
}

/// <summary>Adds endpoints to the admin listener.</summary>
internal static class AdminEndpointsRegistration
{
    public static IServiceCollection AddAdminEndpoints<T>(this IServiceCollection services)
        where T : class, IAdminEndpoints
    {
        services.AddSingleton<IAdminEndpoints, T>();
        return services;
    }

    public static TBuilder AllowWithoutAdminKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(OpenAdminEndpoint.Instance);
}
