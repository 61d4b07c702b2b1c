using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Http.Security;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// Runs after routing on the admin listener: when credentials are required, a request for an endpoint not marked open
/// needs a valid key (checked in constant time by the HTTP ingress's <see cref="ApiKeyAuthenticator"/>) or a client
/// certificate of the configured CA (validated by Kestrel in the TLS handshake, which fails for any other), else 401.
/// Unknown paths get 401 too, so an unauthenticated client learns nothing of what is mapped.
/// </summary>
internal sealed partial class AdminAuthentication(RequestDelegate next, AdminKeys keys, ILogger<AdminAuthentication> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!keys.RequiresCredentials
            || context.GetEndpoint()?.Metadata.GetMetadata<OpenAdminEndpoint>() is not null
            || (keys.AcceptsClientCertificates && context.Connection.ClientCertificate is not null)
            || keys.Authenticator?.IsValid(context.Request) == true)
        {
            return next(context);
        }
        LogRejected(logger);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = EventIds.AdminRequestRejected, Level = LogLevel.Information, Message = "Admin request rejected with 401 (no valid key or client certificate)")]
    private static partial void LogRejected(ILogger logger);
}

/// <summary>
/// The admin listener's credential checks: none required on loopback without configured keys or client CA; the keys
/// (null when none are configured) and whether a client certificate (validated in the handshake) is accepted instead.
/// </summary>
internal sealed record AdminKeys(bool RequiresCredentials, ApiKeyAuthenticator? Authenticator, bool AcceptsClientCertificates);
