using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Http.Security;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// Runs after routing on the admin listener: when a key is required, a request for an endpoint not marked open needs
/// a valid one (checked in constant time by the HTTP ingress's <see cref="ApiKeyAuthenticator"/>), else 401.
/// Unknown paths get 401 too, so an unauthenticated client learns nothing of what is mapped.
/// </summary>
internal sealed partial class AdminAuthentication(RequestDelegate next, AdminKeys keys, ILogger<AdminAuthentication> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (keys.Authenticator is null || context.GetEndpoint()?.Metadata.GetMetadata<OpenAdminEndpoint>() is not null || keys.Authenticator.IsValid(context.Request))
        {
            return next(context);
        }
        LogRejected(logger);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = EventIds.AdminRequestRejected, Level = LogLevel.Information, Message = "Admin request rejected with 401 (no valid key)")]
    private static partial void LogRejected(ILogger logger);
}

/// <summary>The admin listener's key check: none when no key is required (loopback without configured keys).</summary>
internal sealed record AdminKeys(ApiKeyAuthenticator? Authenticator);
