using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Http.Ingress;
using Yarp.ReverseProxy.Model;

namespace TelemetryGateway.Http.Security;

/// <summary>
/// Runs before the proxy: a request needs a valid API key or a client certificate (as configured), else 401; an
/// authenticated request that matches no route gets 404. Both are counted; keys are never logged.
/// </summary>
internal sealed partial class IngressAuthentication(
    RequestDelegate next, HttpIngressOptions options, ApiKeyAuthenticator apiKeys, IngressCounters counters, ILogger<IngressAuthentication> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        var routeId = context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Config.RouteId;
        // Kestrel has already validated a presented certificate against the configured CA during the handshake.
        var authenticated = (options.AcceptsClientCertificates && context.Connection.ClientCertificate is not null)
            || (options.AcceptsApiKeys && apiKeys.IsValid(context.Request));
        if (!authenticated)
        {
            if (options.AcceptsApiKeys)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
            }
            return Reject(context, routeId ?? IngressCounters.NoRoute, StatusCodes.Status401Unauthorized, "unauthenticated");
        }
        if (routeId is null)
        {
            return Reject(context, IngressCounters.NoRoute, StatusCodes.Status404NotFound, "no-route");
        }
        return next(context);
    }

    private Task Reject(HttpContext context, string route, int status, string reason)
    {
        counters.Rejected(route, status, reason);
        LogRejected(logger, route, status, reason);
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = EventIds.HttpAuthenticationRejected, Level = LogLevel.Information, Message = "HTTP ingress route {Route}: request rejected with {Status} ({Reason})")]
    private static partial void LogRejected(ILogger logger, string route, int status, string reason);
}
