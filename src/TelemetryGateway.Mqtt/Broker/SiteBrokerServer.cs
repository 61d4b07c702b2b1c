using MQTTnet.AspNetCore;
using MQTTnet.Server;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Tls;

namespace TelemetryGateway.Mqtt;

/// <summary>Builds the MQTTnet server of the site broker: persistent sessions, bounded queues, the listeners of the chosen transport.</summary>
internal static class SiteBrokerServer
{
    /// <summary>
    /// The server; with <paramref name="kestrelHandler"/> Kestrel owns the sockets (see <see cref="MqttGatewayRegistration"/>),
    /// without it MQTTnet's own TCP listeners are used.
    /// </summary>
    public static MqttServer Create(SiteBrokerOptions options, SecurityOptions security, TlsCredentials? tls, MqttConnectionHandler? kestrelHandler)
    {
        var factory = new MqttServerFactory();
        var builder = factory.CreateServerOptionsBuilder()
            .WithMaxPendingMessagesPerClient(options.MaxPendingMessagesPerClient)
            .WithPersistentSessions()
            // Bounds the wait for CONNECT (a client that never sends one is dropped); MQTTnet also uses it when sending a
            // DISCONNECT and closing a connection, not for ordinary traffic.
            .WithDefaultCommunicationTimeout(security.Limits.ConnectTimeout);
        if (kestrelHandler is null)
        {
            builder.WithTcpListeners(options, security, tls);
            return factory.CreateMqttServer(builder.Build());
        }
        return factory.CreateMqttServer(builder.WithoutDefaultEndpoint().Build(), [kestrelHandler]);
    }
}
