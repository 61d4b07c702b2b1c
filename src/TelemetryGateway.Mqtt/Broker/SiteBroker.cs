using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Formatter;
using MQTTnet.Server;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Tls;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt;

/// <summary>
/// The broker devices and the commissioning app connect to (MQTT 3.1.1 and 5; retained and will messages as the spec
/// says), with the telemetry ingress attached, and the drainer that delivers the outbox upstream. Start: outbox open,
/// broker listening, drainer running. Stop: the broker stops accepting, then the drainer flushes what it can.
/// </summary>
internal sealed partial class SiteBroker : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);

    private readonly SiteBrokerOptions _options;
    private readonly MqttServer _server;
    private readonly SqliteOutbox _outbox;
    private readonly QuarantineLog _quarantine;
    private readonly IUpstream _upstream;
    private readonly OutboxDrainer _drainer;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _draining;

    public SiteBroker(
        SiteBrokerOptions options, UpstreamOptions upstreamOptions, MqttConnectionHandler? kestrelHandler, SqliteOutbox outbox,
        MinimizerPool minimizers, UpstreamEncoder encoder, QuarantineLog quarantine, ILoggerFactory loggers, TimeProvider time,
        SecurityOptions security, CredentialStore credentials, CompiledPolicy policy, TlsCredentials? tls)
    {
        _options = options;
        _outbox = outbox;
        _quarantine = quarantine;
        _logger = loggers.CreateLogger<SiteBroker>();
        var factory = new MqttServerFactory();
        _securityOptions = security;
        _tls = tls;
        var builder = factory.CreateServerOptionsBuilder()
            .WithMaxPendingMessagesPerClient(options.MaxPendingMessagesPerClient)
            .WithPersistentSessions()
            // Bounds the wait for CONNECT (a client that never sends one is dropped); MQTTnet also uses it when sending a
            // DISCONNECT and closing a connection, not for ordinary traffic.
            .WithDefaultCommunicationTimeout(security.Limits.ConnectTimeout);
        if (kestrelHandler is null)
        {
            builder.WithTcpListeners(options, security, tls);
            _server = factory.CreateMqttServer(builder.Build());
        }
        else
        {
            // Kestrel owns the socket (see MqttGatewayRegistration); the server takes connections from its handler.
            _server = factory.CreateMqttServer(builder.WithoutDefaultEndpoint().Build(), [kestrelHandler]);
        }
        _upstream = upstreamOptions.IsConfigured
            ? new MqttUpstream(upstreamOptions, loggers.CreateLogger<MqttUpstream>(), time)
            : new SiteBrokerUpstream(_server);
        _drainer = new OutboxDrainer(outbox, _upstream, loggers.CreateLogger<OutboxDrainer>());
        Delivery = new UpstreamDelivery(_upstream, outbox, loggers.CreateLogger<UpstreamDelivery>());
        var ingress = new TelemetryIngress(minimizers, encoder, Delivery, quarantine, loggers.CreateLogger<TelemetryIngress>(), time, _stopping.Token);
        Ingress = ingress;
        Security = new DeviceSecurity(
            security, credentials, policy, countConnectionsAtConnect: kestrelHandler is null, ingress.IsMqtt5, DisconnectAsync,
            loggers.CreateLogger<DeviceSecurity>(), time);
        _server.ValidatingConnectionAsync += async args =>
        {
            if (string.IsNullOrEmpty(args.ClientId) && args.ProtocolVersion != MqttProtocolVersion.V500)
            {
                // MQTT 3.1.1 §3.1.3.1 lets a server refuse an empty client id (CONNACK 0x02); refused here, before the
                // security checks count the connection.
                args.ReasonCode = MQTTnet.Protocol.MqttConnectReasonCode.ClientIdentifierNotValid;
                return;
            }
            await Security.ValidateConnectionAsync(args);
            if (args.ReasonCode != MQTTnet.Protocol.MqttConnectReasonCode.Success)
            {
                return;
            }
            ingress.ClientProtocols[string.IsNullOrEmpty(args.ClientId) ? args.AssignedClientIdentifier : args.ClientId] = args.ProtocolVersion;
        };
        _server.ClientConnectedAsync += args =>
        {
            Security.OnConnected(args);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += args =>
        {
            Security.OnDisconnected(args);
            if (args.DisconnectType != MqttClientDisconnectType.Takeover)
            {
                ingress.ClientProtocols.TryRemove(args.ClientId, out _);
            }
            return Task.CompletedTask;
        };
        _server.SessionDeletedAsync += args =>
        {
            Security.OnSessionDeleted(args);
            return Task.CompletedTask;
        };
        _server.InterceptingSubscriptionAsync += Security.OnSubscriptionAsync;
        _server.InterceptingUnsubscriptionAsync += DeviceSecurity.OnUnsubscriptionAsync;
        _server.InterceptingInboundPacketAsync += Security.OnInboundPacketAsync;
        _server.InterceptingOutboundPacketAsync += Security.OnOutboundPacketAsync;
        // One handler, so that nothing a client may not publish reaches the ingress (and the cloud).
        _server.InterceptingPublishAsync += args => Security.AuthorizePublish(args) ? ingress.OnPublishAsync(args) : Task.CompletedTask;
    }

    private readonly SecurityOptions _securityOptions;
    private readonly TlsCredentials? _tls;
    private Task? _expiring;

    private async Task DisconnectAsync(string clientId, MQTTnet.Protocol.MqttDisconnectReasonCode reason)
    {
        try
        {
            await _server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions { ReasonCode = reason });
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
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
    public UpstreamDelivery Delivery { get; }
    public OutboxDrainer Drainer => _drainer;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync();
        _draining = Task.Run(() => _drainer.RunAsync(s_flushTimeout, _stopping.Token), CancellationToken.None);
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
        // QoS 0 messages already accepted are still delivered (or stored) before the drainer winds down.
        await Ingress.WaitForDeliveriesAsync(s_flushTimeout);
        await _stopping.CancelAsync();
        if (_draining is not null)
        {
            await _draining;
        }
        if (_expiring is not null)
        {
            await _expiring;
        }
        LogStopped(_logger, Delivery.DeliveredDirectly + _drainer.Delivered, _outbox.Count, Ingress.Unmatched, _quarantine.Count);
        LogSecurityTotals(_logger, Security.RefusedConnections, Security.TotalDenials);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _outbox.DisposeAsync();
        Ingress.Dispose();
        Security.Dispose();
        _server.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Site broker listening on {Address}:{Port} ({Transport}); {Stored} outputs waiting in the outbox")]
    private static partial void LogListening(ILogger logger, string address, int port, string transport, long stored);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Site broker stopped; {Delivered} outputs delivered, {Stored} left in the outbox for the next start; "
        + "{Unmatched} messages matched no stream (not forwarded), {Quarantined} quarantined")]
    private static partial void LogStopped(ILogger logger, long delivered, long stored, long unmatched, long quarantined);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Site broker listening with TLS on {Address}:{Port} (TLS 1.2/1.3; client certificates: {ClientCertificates})")]
    private static partial void LogListeningTls(ILogger logger, string address, int port, string clientCertificates);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Anonymous access is on (bind address {Address}): clients without credentials may publish and subscribe to every topic")]
    private static partial void LogAnonymous(ILogger logger, string address);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "{Users} users in the credentials file")]
    private static partial void LogUsers(ILogger logger, int users);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "{Sessions} disconnected sessions expired (MaxSessionExpiry or the client's own expiry)")]
    private static partial void LogSessionsExpired(ILogger logger, int sessions);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Security: {Refused} connections refused, {Denied} publishes or subscriptions denied")]
    private static partial void LogSecurityTotals(ILogger logger, long refused, long denied);
}
