using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// <c>/healthz</c> (liveness: the checks tagged <see cref="Live"/>) and <c>/readyz</c> (readiness: those tagged
/// <see cref="Ready"/>): 200 when every check is healthy, else 503; the JSON body names each check and its state, and
/// the failing ones say why. Open without the admin key: probes carry no data.
/// </summary>
internal sealed class HealthAdminEndpoints(HealthCheckService health) : IAdminEndpoints
{
    public const string Live = "live";
    public const string Ready = "ready";

    public void Map(IEndpointRouteBuilder admin)
    {
        admin.MapGet("/healthz", (CancellationToken cancellationToken) => CheckAsync(Live, cancellationToken)).AllowWithoutAdminKey();
        admin.MapGet("/readyz", (CancellationToken cancellationToken) => CheckAsync(Ready, cancellationToken)).AllowWithoutAdminKey();
    }

    private async Task<IResult> CheckAsync(string tag, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(tag), cancellationToken);
        var healthy = report.Status == HealthStatus.Healthy;
        var body = new
        {
            status = healthy ? "ok" : "failing",
            failing = report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => e.Key).ToArray(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status == HealthStatus.Healthy ? "ok" : "failing", detail = e.Value.Description }),
        };
        return Results.Json(body, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
