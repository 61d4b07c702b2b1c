using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Http.Security;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// The admin listener: a web application of its own (its own Kestrel, port and pipeline), so that it runs the same
/// whether the MQTT listener is on Kestrel or on MQTTnet's TCP transport, and nothing of the HTTP ingress's
/// authentication or routes applies to it. Its endpoints come from every <see cref="IAdminEndpoints"/> registered in
/// the gateway's services. Started before the site broker, stopped after it.
/// </summary>
internal sealed partial class AdminListener(
    AdminOptions options, IEnumerable<IAdminEndpoints> endpoints, ILoggerFactory loggerFactory, ILogger<AdminListener> logger)
    : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(options.BindAddress), options.Port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddRoutingCore();
        // The gateway's logging: admin events appear with the gateway's own, in its format.
        builder.Services.AddLogging();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(new AdminKeys(options.RequiresApiKey ? new ApiKeyAuthenticator(options.LoadApiKeyHashes()) : null));
        var app = builder.Build();
        app.UseRouting();
        app.UseMiddleware<AdminAuthentication>();
        foreach (var feature in endpoints)
        {
            feature.Map(app);
        }
        await app.StartAsync(cancellationToken);
        _app = app;
        LogListening(logger, options.BindAddress, options.Port, options.RequiresApiKey ? "required" : "not required on loopback");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }

    [LoggerMessage(EventId = EventIds.AdminListening, Level = LogLevel.Information, Message = "Admin listener on {Address}:{Port} (key {KeyRequirement})")]
    private static partial void LogListening(ILogger logger, string address, int port, string keyRequirement);
}
