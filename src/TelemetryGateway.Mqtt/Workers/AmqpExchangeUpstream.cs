using System.Text;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>
/// The upstream of an <c>amqp</c> worker that publishes to an exchange on the cluster it consumes from
/// (<c>Gateway:Upstream:Url=amqp://...</c> with <c>Gateway:Upstream:Exchange</c>): persistent messages with publisher
/// confirms, the output's tags as message headers (<c>purpose</c>, <c>legal-basis</c>, <c>categories</c>,
/// <c>policy</c>, <c>retention</c>), its expiry as the message TTL, and its topic as the routing key with <c>/</c> and
/// <c>.</c> swapped as the MQTT plugin does (so <c>telemetry/...</c> is <c>telemetry....</c> on <c>amq.topic</c>
/// too). A publish is acknowledged only once the broker confirmed it; an unroutable one (no queue bound) is returned
/// by the broker and becomes a dead letter rather than vanishing. Reconnects itself, like the MQTT upstream, when the
/// drainer finds it disconnected.
/// </summary>
internal sealed partial class AmqpExchangeUpstream : IUpstream
{
    // The longest routing key AMQP 0-9-1 carries (a short string).
    private const int MaxRoutingKeyBytes = 255;
    private static readonly TimeSpan s_confirmTimeout = TimeSpan.FromSeconds(10);

    private readonly UpstreamOptions _options;
    private readonly IReadOnlyList<Uri> _endpoints;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _window;
    private IConnection? _connection;
    private IChannel? _channel;

    public AmqpExchangeUpstream(UpstreamOptions options, ILogger<AmqpExchangeUpstream> logger, TimeProvider time)
    {
        _options = options;
        _endpoints = options.AmqpEndpoints;
        if (_endpoints.Count == 0 || options.Exchange is null)
        {
            throw new ArgumentException("An AMQP upstream needs amqp:// URLs and an exchange.", nameof(options));
        }
        _logger = logger;
        _time = time;
        _window = new SemaphoreSlim(options.InFlightWindow, options.InFlightWindow);
    }

    public int Window => _options.InFlightWindow;

    public bool IsConnected => _channel is { IsOpen: true } && _connection is { IsOpen: true };

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var delay = _options.ReconnectMinDelay;
        var attempt = 0;
        var factory = new ConnectionFactory
        {
            Uri = _endpoints[0],
            // Reconnected here, when the drainer finds the upstream down: one way back, not two.
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = _options.ClientId,
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
        };
        var nodes = _endpoints.Select(uri => new AmqpTcpEndpoint(uri)).ToList();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await CloseAsync();
            try
            {
                _connection = await factory.CreateConnectionAsync(nodes, _options.ClientId, cancellationToken);
                _channel = await _connection.CreateChannelAsync(
                    new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
                // The exchange is the operator's (declared with the queues bound to it); a missing one is a configuration
                // error, reported here rather than as every output dead-lettered.
                await _channel.ExchangeDeclarePassiveAsync(_options.Exchange!, cancellationToken);
                LogConnected(_logger, _connection.Endpoint.HostName, _connection.Endpoint.Port, Window);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await CloseAsync();
                throw;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // No node reachable, access refused, the exchange missing: the same again, later.
                if (attempt++ % 10 == 0)
                {
                    LogUnreachable(_logger, e.GetType().Name, delay.TotalMilliseconds);
                }
            }
            var jittered = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * delay.TotalMilliseconds) + TimeSpan.FromMilliseconds(10);
            await Task.Delay(jittered, _time, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
        }
    }

    /// <summary>The routing key of an output topic: <c>/</c> and <c>.</c> swapped, as the MQTT plugin maps topics.</summary>
    public static string RoutingKeyOf(string topic) => AmqpQueueWorker.TopicOf(topic);

    /// <summary>How an output goes on the wire: persistent, its tags as headers, its expiry as the per-message TTL.</summary>
    public static BasicProperties PropertiesOf(UpstreamMessage message)
    {
        var properties = new BasicProperties
        {
            DeliveryMode = DeliveryModes.Persistent,
            ContentType = message.ContentType,
            Headers = new Dictionary<string, object?>(5, StringComparer.Ordinal)
            {
                ["purpose"] = message.Purpose,
                ["legal-basis"] = message.LegalBasis,
                ["categories"] = message.Categories,
                ["policy"] = message.Policy,
                ["retention"] = message.Retention,
            },
        };
        if (message.ExpirySeconds > 0)
        {
            properties.Expiration = (message.ExpirySeconds * 1000L).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return properties;
    }

    public async Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken)
    {
        var routingKey = RoutingKeyOf(message.Topic);
        if (Encoding.UTF8.GetByteCount(routingKey) > MaxRoutingKeyBytes)
        {
            return s_routingKeyTooLong;
        }
        var channel = _channel;
        if (channel is not { IsOpen: true })
        {
            return PublishResult.ConnectionLost;
        }
        await _window.WaitAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_confirmTimeout);
        try
        {
            // With confirmation tracking, the publish returns once the broker confirmed it (and throws on a nack or a return).
            await channel.BasicPublishAsync(_options.Exchange!, routingKey, mandatory: true, PropertiesOf(message), message.Payload, timeout.Token);
            return PublishResult.Acknowledged;
        }
        catch (PublishException e) when (e.IsReturn)
        {
            // No queue is bound for this routing key: kept as a dead letter (replayable), not dropped.
            return s_unroutable;
        }
        catch (PublishException)
        {
            return s_nacked;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return PublishResult.TimedOut;
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            return PublishResult.ConnectionLost;
        }
        finally
        {
            _window.Release();
        }
    }

    private static readonly PublishResult s_unroutable = new(PublishOutcome.Rejected, "unroutable");
    private static readonly PublishResult s_routingKeyTooLong = new(PublishOutcome.Rejected, "routing-key-too-long");
    private static readonly PublishResult s_nacked = new(PublishOutcome.Transient, "nacked");

    private async Task CloseAsync()
    {
        await AmqpSession.CloseAsync(_channel, _connection);
        _channel = null;
        _connection = null;
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _window.Dispose();
    }

    [LoggerMessage(EventId = EventIds.WorkerUpstreamConnected, Level = LogLevel.Information, Message = "Upstream exchange reached on {Host}:{Port} with publisher confirms (window {Window})")]
    private static partial void LogConnected(ILogger logger, string host, int port, int window);

    [LoggerMessage(EventId = EventIds.WorkerUpstreamUnreachable, Level = LogLevel.Warning, Message = "Upstream exchange not reachable ({Error}); retrying with backoff (now up to {DelayMs} ms)")]
    private static partial void LogUnreachable(ILogger logger, string error, double delayMs);
}
