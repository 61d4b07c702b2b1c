using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Tls;

namespace TelemetryGateway.Mqtt;

/// <summary>
/// The broker devices and the commissioning app connect to (MQTT 3.1.1 and 5; retained and will messages as the spec
/// says): wires the server's hooks to the security checks and the telemetry ingress. Its parts are composed in DI
/// (<see cref="MqttGatewayRegistration"/>); delivery is a hosted service of its own that starts before the broker and
/// stops after it. Stop: the broker stops accepting, then the QoS 0 deliveries still running finish.
/// </summary>
internal sealed partial class SiteBroker : IHostedService, IDisposable
{
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);

    private readonly SiteBrokerOptions _options;
    private readonly MqttServer _server;
    private readonly SqliteOutbox _outbox;
    private readonly QuarantineLog _quarantine;
    private readonly SecurityOptions _securityOptions;
    private readonly TlsCredentials? _tls;
    private readonly ILogger _logger;

    public SiteBroker(
        SiteBrokerOptions options, MqttServer server, TelemetryIngress ingress, DeviceSecurity security, SqliteOutbox outbox, QuarantineLog quarantine,
        SecurityOptions securityOptions, TlsCredentials? tls, ILogger<SiteBroker> logger, Rights.ConsentIngress? consent = null)
    {
        _options = options;
        _server = server;
        _outbox = outbox;
        _quarantine = quarantine;
        _securityOptions = securityOptions;
        _tls = tls;
        _logger = logger;
        Ingress = ingress;
        Security = security;
        Shares = new SharedSubscriptions(securityOptions.Limits, Disconnector(server), logger);
        Shares.Activate = () => _server.InterceptingClientEnqueueAsync += Shares.OnEnqueue;
        _server.ValidatingConnectionAsync += async args =>
        {
            if ((string.IsNullOrEmpty(args.ClientId) || args.ClientId == Mqtt.Security.Limits.PacketSizeGuard.EmptyClientIdWithoutCleanSession)
                && args.ProtocolVersion != MqttProtocolVersion.V500)
            {
                // MQTT 3.1.1 §3.1.3.1: an empty client id without clean session is refused (CONNACK 0x02; the Kestrel
                // packet guard marks it, MQTTnet's decoder would drop the connection). With clean session the guard has
                // put an assigned id in the CONNECT; MQTTnet's own TCP listener cannot (MQTTnet assigns ids to MQTT 5
                // clients only), so there it is refused too. Before the security checks count the connection.
                args.ReasonCode = MQTTnet.Protocol.MqttConnectReasonCode.ClientIdentifierNotValid;
                return;
            }
            if (args.CleanSession == false && !string.IsNullOrEmpty(args.ClientId))
            {
                // MQTTnet would resume a session past its expiry. Deleted before the security checks, which own the
                // client id for the session this connection gets.
                await Security.DiscardExpiredSessionAsync(_server, args.ClientId);
            }
            await Security.ValidateConnectionAsync(args);
            if (args.ReasonCode != MQTTnet.Protocol.MqttConnectReasonCode.Success)
            {
                return;
            }
            var clientId = string.IsNullOrEmpty(args.ClientId) ? args.AssignedClientIdentifier : args.ClientId;
            ingress.ClientProtocols[clientId] = args.ProtocolVersion;
            Shares.OnConnectionAccepted(clientId, args.CleanSession == true);
            Subscribers.OnConnectionAccepted(clientId, args.MaximumPacketSize);
            Wills.OnConnectionAccepted(clientId, args);
        };
        _server.ClientConnectedAsync += args =>
        {
            Security.OnConnected(args);
            Shares.OnConnected(args.ClientId);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += args =>
        {
            Security.OnDisconnected(args);
            Subscribers.OnDisconnected(args);
            Shares.OnDisconnected(args);
            if (args.DisconnectType != MqttClientDisconnectType.Takeover)
            {
                ingress.ClientProtocols.TryRemove(args.ClientId, out _);
            }
            return Task.CompletedTask;
        };
        _server.SessionDeletedAsync += args =>
        {
            Security.OnSessionDeleted(args);
            Wills.OnSessionDeleted(args.Id);
            Shares.OnSessionDeleted(args.Id);
            return Task.CompletedTask;
        };
        // Shared subscriptions: $share/g/f arrives as f (inbound hook), refused here when invalid, and the ACL sees f.
        _server.InterceptingSubscriptionAsync += args => Shares.TryRefuse(args) ? Task.CompletedTask : Security.OnSubscriptionAsync(args);
        _server.ClientSubscribedTopicAsync += args =>
        {
            Shares.OnSubscribed(args);
            return Task.CompletedTask;
        };
        // The filter leaves the security's count only when MQTTnet's subscription goes (a shared and a plain use share it).
        _server.InterceptingUnsubscriptionAsync += args => Shares.OnUnsubscription(args) ? DeviceSecurity.OnUnsubscriptionAsync(args) : Task.CompletedTask;
        _server.InterceptingInboundPacketAsync += args =>
        {
            PublishAcknowledgements.OnInboundPacket(args);
            var sharing = Shares.OnInboundPacketAsync(args);
            if (!args.ProcessPacket)
            {
                return sharing;
            }
            var checking = Security.OnInboundPacketAsync(args);
            // After the security check, which may refuse the packet (then MQTTnet does not dispatch it).
            Wills.OnInboundPacket(args);
            return checking;
        };
        _server.InterceptingOutboundPacketAsync += args =>
        {
            PublishAcknowledgements.OnOutboundPacket(args);
            Subscribers.OnOutboundPacket(args);
            if (args.Packet is MQTTnet.Packets.MqttConnAckPacket connAck)
            {
                // MQTT 5 §3.2.2.3.13: absent means available; MQTTnet writes "not available".
                connAck.SharedSubscriptionAvailable = true;
            }
            return Security.OnOutboundPacketAsync(args);
        };
        // One handler, so that nothing a client may not publish reaches the minimizer (and the cloud).
        // The ingress classifies the topic once and the security check decides with that classification.
        Func<InterceptingPublishEventArgs, Core.Policy.CompiledStream?, bool> authorize = Security.AuthorizePublish;
        Wills.Publish = (clientId, will, sessionItems) =>
            _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(will) { SenderClientId = clientId, CustomSessionItems = sessionItems });
        Func<InterceptingPublishEventArgs, Task> route = args => ingress.OnPublishAsync(args, authorize);
        if (consent is not null)
        {
            // Consent messages have their own ingress (their own topic, never routed); results are published as the gateway.
            consent.Publish = message => _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = Upstream.SiteBrokerUpstream.SenderClientId });
            route = args =>
                args.ClientId != Upstream.SiteBrokerUpstream.SenderClientId && Mqtt.Security.Authorization.TopicAcl.IsConsentTopic(args.ApplicationMessage.Topic ?? "")
                    ? consent.OnPublishAsync(args, authorize, ingress.IsMqtt5(args.ClientId))
                    : ingress.OnPublishAsync(args, authorize);
        }
        _server.InterceptingPublishAsync += args =>
        {
            // A will with a delay comes back through here when it is due.
            if (Wills.TryHold(args))
            {
                return Task.CompletedTask;
            }
            // When a message with an expiry arrived, whatever the ingress decides about it.
            Subscribers.OnPublish(args.ApplicationMessage);
            return route(args);
        };
    }

    private readonly CancellationTokenSource _stopping = new();
    private Task? _expiring;

    /// <summary>Disconnects a client of <paramref name="server"/> with a reason code (DeviceSecurity's way to end a connection).</summary>
    internal static Func<string, MqttDisconnectReasonCode, Task> Disconnector(MqttServer server) => async (clientId, reason) =>
    {
        try
        {
            await server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions { ReasonCode = reason });
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    };

    public void Dispose()
    {
        _stopping.Dispose();
        Wills.Dispose();
    }

    private async Task ExpireSessionsAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Security.SessionSweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var deleted = await Security.ExpireSessionsAsync(_server);
                if (deleted > 0)
                {
                    LogSessionsExpired(_logger, deleted);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    public MqttServer Server => _server;
    public DeviceSecurity Security { get; }
    public TelemetryIngress Ingress { get; }

    /// <summary>Message expiry and the client's Maximum Packet Size on what the broker sends its subscribers.</summary>
    public SubscriberDelivery Subscribers { get; } = new(TimeProvider.System);

    /// <summary>Shared subscriptions ($share/group/filter), which MQTTnet refuses by itself.</summary>
    public SharedSubscriptions Shares { get; }

    /// <summary>Wills held for their Will Delay Interval.</summary>
    public WillDelays Wills { get; } = new(TimeProvider.System);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync();
        _expiring = Task.Run(() => ExpireSessionsAsync(_stopping.Token), CancellationToken.None);
        if (_options.Port != 0)
        {
            LogListening(_logger, _options.BindAddress, _options.Port, _options.Transport, _outbox.Count);
        }
        if (_tls is not null)
        {
            LogListeningTls(_logger, _options.BindAddress, _securityOptions.Tls.Port, _tls.Options.ClientCertificates);
        }
        if (_securityOptions.AllowAnonymous)
        {
            LogAnonymous(_logger, _options.BindAddress);
        }
        LogUsers(_logger, Security.Credentials.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _server.StopAsync(new MqttServerStopOptions());
        // QoS 0 messages already accepted are still delivered (or stored) before delivery winds down.
        await Ingress.WaitForDeliveriesAsync(s_flushTimeout);
        await Ingress.CancelDeliveriesAsync();
        await _stopping.CancelAsync();
        if (_expiring is not null)
        {
            await _expiring;
        }

        LogStopped(_logger, Ingress.Unmatched, _quarantine.Count);
        LogSecurityTotals(_logger, Security.RefusedConnections, Security.TotalDenials);
        LogSubscriberTotals(_logger, Subscribers.Expired, Subscribers.TooLarge);
        if (Shares.Delivered > 0 || Shares.Refused > 0)
        {
            LogSharedTotals(_logger, Shares.Delivered, Shares.Refused);
        }
    }

    [LoggerMessage(EventId = EventIds.SiteBrokerListening, Level = LogLevel.Information, Message = "Site broker listening on {Address}:{Port} ({Transport}); {Stored} outputs waiting in the outbox")]
    private static partial void LogListening(ILogger logger, string address, int port, string transport, long stored);

    [LoggerMessage(EventId = EventIds.SiteBrokerStopped, Level = LogLevel.Information, Message = "Site broker stopped; "
        + "{Unmatched} messages matched no stream (not forwarded), {Quarantined} quarantined")]
    private static partial void LogStopped(ILogger logger, long unmatched, long quarantined);

    [LoggerMessage(EventId = EventIds.SiteBrokerListeningTls, Level = LogLevel.Information, Message = "Site broker listening with TLS on {Address}:{Port} (TLS 1.2/1.3; client certificates: {ClientCertificates})")]
    private static partial void LogListeningTls(ILogger logger, string address, int port, string clientCertificates);

    [LoggerMessage(EventId = EventIds.AnonymousAccess, Level = LogLevel.Warning, Message = "Anonymous access is on (bind address {Address}): clients without credentials may publish and subscribe to every topic")]
    private static partial void LogAnonymous(ILogger logger, string address);

    [LoggerMessage(EventId = EventIds.UsersLoaded, Level = LogLevel.Information, Message = "{Users} users in the credentials file")]
    private static partial void LogUsers(ILogger logger, int users);

    [LoggerMessage(EventId = EventIds.SessionsExpired, Level = LogLevel.Information, Message = "{Sessions} disconnected sessions expired (MaxSessionExpiry or the client's own expiry)")]
    private static partial void LogSessionsExpired(ILogger logger, int sessions);

    [LoggerMessage(EventId = EventIds.SubscriberDeliveryTotals, Level = LogLevel.Information, Message = "Site broker: {Expired} queued messages expired before delivery (Message Expiry Interval), "
        + "{TooLarge} not sent because they exceeded the subscriber's Maximum Packet Size")]
    private static partial void LogSubscriberTotals(ILogger logger, long expired, long tooLarge);

    [LoggerMessage(EventId = EventIds.SharedSubscriptionTotals, Level = LogLevel.Information, Message = "Site broker: {Delivered} messages dealt to a member of a shared subscription, {Refused} shared subscriptions refused")]
    private static partial void LogSharedTotals(ILogger logger, long delivered, long refused);

    [LoggerMessage(EventId = EventIds.SecurityTotals, Level = LogLevel.Information, Message = "Security: {Refused} connections refused, {Denied} publishes or subscriptions denied")]
    private static partial void LogSecurityTotals(ILogger logger, long refused, long denied);
}
