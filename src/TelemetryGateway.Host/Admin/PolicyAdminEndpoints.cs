using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TelemetryGateway.Host.Reload;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// <c>GET /admin/policy</c>: the running policy's id, version, content hash, generation and load time.
/// <c>POST /admin/reload</c>: reloads the policy file; 200 with the running policy, or 422 with every error (the
/// running policy stays).
/// </summary>
internal sealed class PolicyAdminEndpoints(PolicyReloader reloader) : IAdminEndpoints
{
    public void Map(IEndpointRouteBuilder admin)
    {
        admin.MapGet("/admin/policy", () => Results.Json(Describe(reloader.Running)));
        admin.MapPost("/admin/reload", () =>
        {
            var result = reloader.Reload("admin-api");
            return result.Succeeded
                ? Results.Json(Describe(reloader.Running))
                : Results.Json(new { errors = result.Errors, running = Describe(reloader.Running) }, statusCode: StatusCodes.Status422UnprocessableEntity);
        });
    }

    private static object Describe(RunningPolicy policy) => new
    {
        id = policy.Id,
        version = policy.Version,
        sha256 = policy.Sha256,
        generation = policy.Generation,
        loadedAt = policy.LoadedAt,
    };
}
