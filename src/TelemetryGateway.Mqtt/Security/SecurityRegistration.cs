using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet.AspNetCore;
using MQTTnet.Server;
using TelemetryGateway.Mqtt.Security.Limits;
using TelemetryGateway.Mqtt.Security.Tls;

namespace TelemetryGateway.Mqtt.Security;

/// <summary>The listeners with their security: Kestrel endpoints (plain and TLS) or MQTTnet's own TCP endpoints.</summary>
internal static class SecurityRegistration
{
    /// <summary>
    /// Kestrel: the plain listener (unless its port is 0) and the TLS listener (when enabled). On each, connections are
    /// counted before anything else (a refused one costs no TLS handshake), then TLS, then the packet size guard, then MQTT.
    /// </summary>
    public static void ConfigureKestrelListeners(KestrelServerOptions kestrel, SiteBrokerOptions broker, SecurityOptions security, TlsCredentials? tls)
    {
        var address = IPAddress.Parse(broker.BindAddress);
        if (broker.Port != 0)
        {
            kestrel.Listen(address, broker.Port, listen =>
            {
                listen.Use(next => context => CountedAsync(listen.ApplicationServices, context, next));
                listen.Use(next => context => GuardedAsync(listen.ApplicationServices, context, next));
                listen.UseMqtt();
            });
        }
        if (tls is not null)
        {
            kestrel.Listen(address, security.Tls.Port, listen =>
            {
                listen.Use(next => context => CountedAsync(listen.ApplicationServices, context, next));
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = tls.ServerCertificate,
                    SslProtocols = TlsCredentials.Protocols,
                    HandshakeTimeout = security.Limits.ConnectTimeout,
                    ClientCertificateMode = tls.Options.ClientCertificates switch
                    {
                        "required" => ClientCertificateMode.RequireCertificate,
                        "optional" => ClientCertificateMode.AllowCertificate,
                        _ => ClientCertificateMode.NoCertificate,
                    },
                    ClientCertificateValidation = (certificate, _, errors) => tls.ValidateClientCertificate(certificate, errors),
                    CheckCertificateRevocation = false,
                });
                listen.Use(next => context => GuardedAsync(listen.ApplicationServices, context, next));
                listen.UseMqtt();
            });
        }
    }

    private static async Task CountedAsync(IServiceProvider services, ConnectionContext context, ConnectionDelegate next)
    {
        var security = services.GetRequiredService<DeviceSecurity>();
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        if (!security.Connections.TryAcquire(address))
        {
            security.CountRefusedConnection("connection limit reached");
            context.Abort(new ConnectionAbortedException("connection limit reached"));
            return;
        }
        try
        {
            await next(context);
        }
        finally
        {
            security.Connections.Release(address);
        }
    }

    private static Task GuardedAsync(IServiceProvider services, ConnectionContext context, ConnectionDelegate next)
    {
        var security = services.GetRequiredService<DeviceSecurity>();
        var limit = security.MaxPacketBytes;
        var guard = new PacketSizeGuard(context.Transport.Input, limit, context, async (reason, code) =>
        {
            // MQTTnet sends the DISCONNECT (MQTT 5 clients whose CONNECT was accepted); the log says which was sent.
            var sent = await security.DisconnectAsync(context.RemoteEndPoint, code);
            security.CountClosedConnection(reason, PacketRefusalId(reason), sent ? code : null);
        }, userName => security.ProposeClientId(userName, context.Features.Get<ITlsConnectionFeature>()?.ClientCertificate));
        context.Transport = new GuardedTransport(context.Transport, guard);
        return next(context);
    }

    // The packet guard's reasons as metrics labels ("packet too large" -> packet-too-large), a constant per reason.
    private static string PacketRefusalId(string reason) => reason switch
    {
        "packet too large" => "packet-too-large",
        "malformed remaining length" => "malformed-remaining-length",
        "topic alias 0" => "topic-alias-0",
        _ => "malformed-packet",
    };

    /// <summary>MQTTnet's own TCP listener: the plain endpoint (unless its port is 0) and the TLS endpoint (when enabled), on the bind address only.</summary>
    public static MqttServerOptionsBuilder WithTcpListeners(this MqttServerOptionsBuilder builder, SiteBrokerOptions broker, SecurityOptions security, TlsCredentials? tls)
    {
        var address = IPAddress.Parse(broker.BindAddress);
        var ipv4 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address : IPAddress.None;
        var ipv6 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? address : IPAddress.None;
        if (broker.Port != 0)
        {
            // Both address families are set: left alone, MQTTnet also listens on every IPv6 address.
            builder.WithDefaultEndpoint()
                .WithDefaultEndpointBoundIPAddress(ipv4)
                .WithDefaultEndpointBoundIPV6Address(ipv6)
                .WithDefaultEndpointPort(broker.Port);
        }
        else
        {
            builder.WithoutDefaultEndpoint();
        }
        if (tls is not null)
        {
            builder.WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(ipv4)
                .WithEncryptedEndpointBoundIPV6Address(ipv6)
                .WithEncryptedEndpointPort(security.Tls.Port)
                .WithEncryptionCertificate(tls.ServerCertificate)
                .WithEncryptionSslProtocol(TlsCredentials.Protocols)
                .WithRemoteCertificateValidationCallback((_, certificate, _, errors) => tls.ValidateClientCertificate(certificate, errors));
            var options = builder.Build();
            options.TlsEndpointOptions.ClientCertificateRequired = tls.Options.AcceptsClientCertificates;
        }
        return builder;
    }
}
