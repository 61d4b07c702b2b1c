using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Formatter;
using MQTTnet.Server;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
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
        MinimizerPool minimizers, UpstreamEncoder encoder, QuarantineLog quarantine, ILoggerFactory loggers, TimeProvider time)
    {
        _options = options;
        _outbox = outbox;
        _quarantine = quarantine;
        _logger = loggers.CreateLogger<SiteBroker>();
        var factory = new MqttServerFactory();
        var builder = factory.CreateServerOptionsBuilder()
            .WithMaxPendingMessagesPerClient(options.MaxPendingMessagesPerClient)
            .WithPersistentSessions();
        if (kestrelHandler is null)
        {
            builder.WithDefaultEndpoint()
                .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(options.BindAddress))
                .WithDefaultEndpointPort(options.Port);
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
        _server.ValidatingConnectionAsync += args =>
        {
            if (string.IsNullOrEmpty(args.ClientId))
            {
                if (args.ProtocolVersion != MqttProtocolVersion.V500)
                {
                    // MQTT 3.1.1 §3.1.3.1 lets a server refuse an empty client id (CONNACK 0x02); MQTTnet does.
                    return Task.CompletedTask;
                }
                // MQTT 5 §3.1.3.1.1: the server assigns an id and returns it in CONNACK.
                args.AssignedClientIdentifier = "auto-" + Guid.NewGuid().ToString("N");
            }
            ingress.ClientProtocols[string.IsNullOrEmpty(args.ClientId) ? args.AssignedClientIdentifier : args.ClientId] = args.ProtocolVersion;
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += args =>
        {
            ingress.ClientProtocols.TryRemove(args.ClientId, out _);
            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += ingress.OnPublishAsync;
    }

    public MqttServer Server => _server;
    public TelemetryIngress Ingress { get; }
    public UpstreamDelivery Delivery { get; }
    public OutboxDrainer Drainer => _drainer;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync();
        _draining = Task.Run(() => _drainer.RunAsync(s_flushTimeout, _stopping.Token), CancellationToken.None);
        LogListening(_logger, _options.BindAddress, _options.Port, _options.Transport, _outbox.Count);
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
        LogStopped(_logger, Delivery.DeliveredDirectly + _drainer.Delivered, _outbox.Count, Ingress.Unmatched, _quarantine.Count);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _outbox.DisposeAsync();
        Ingress.Dispose();
        _server.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Site broker listening on {Address}:{Port} ({Transport}); {Stored} outputs waiting in the outbox")]
    private static partial void LogListening(ILogger logger, string address, int port, string transport, long stored);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Site broker stopped; {Delivered} outputs delivered, {Stored} left in the outbox for the next start; "
        + "{Unmatched} messages matched no stream (not forwarded), {Quarantined} quarantined")]
    private static partial void LogStopped(ILogger logger, long delivered, long stored, long unmatched, long quarantined);
}
