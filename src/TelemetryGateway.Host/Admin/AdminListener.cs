using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
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
        if (options.UsesTls)
        {
            // The slim Kestrel leaves HTTPS out unless asked.
            builder.WebHost.UseKestrelHttpsConfiguration();
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(options.BindAddress), options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (options.UsesTls)
                {
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = X509Certificate2.CreateFromPemFile(options.CertificateFile!, options.KeyFile);
                        if (options.AcceptsClientCertificates)
                        {
                            // Optional in the handshake (a key may be used instead), but one that is sent must chain to the CA.
                            var authority = X509Certificate2.CreateFromPem(File.ReadAllText(options.ClientCaFile!));
                            https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                            https.ClientCertificateValidation = new ClientCertificates(authority).Validate;
                        }
                    });
                }
            });
        });
        builder.Services.AddRoutingCore();
        // The gateway's logging: admin events appear with the gateway's own, in its format.
        builder.Services.AddLogging();
        builder.Services.AddSingleton(loggerFactory);
        var hashes = options.LoadApiKeyHashes();
        builder.Services.AddSingleton(new AdminKeys(
            options.RequiresCredentials, hashes.Count > 0 ? new ApiKeyAuthenticator(hashes) : null, options.AcceptsClientCertificates));
        var app = builder.Build();
        app.UseRouting();
        app.UseMiddleware<AdminAuthentication>();
        foreach (var feature in endpoints)
        {
            feature.Map(app);
        }
        await app.StartAsync(cancellationToken);
        _app = app;
        LogListening(
            logger, options.UsesTls ? "https" : "http", options.BindAddress, options.Port,
            !options.RequiresCredentials ? "not required on loopback" : options.AcceptsClientCertificates ? "a key or a client certificate" : "a key");
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

    [LoggerMessage(EventId = EventIds.AdminListening, Level = LogLevel.Information, Message = "Admin listener on {Scheme}://{Address}:{Port} (credentials: {Credentials})")]
    private static partial void LogListening(ILogger logger, string scheme, string address, int port, string credentials);
}
