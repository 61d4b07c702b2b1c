using System.Buffers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>
/// Ingress mode <c>amqp</c>: one worker consuming a RabbitMQ quorum queue that the operator binds to the MQTT plugin's
/// <c>amq.topic</c> exchange. A delivery is acknowledged only after its outputs are acknowledged upstream or stored in
/// the outbox; an unmatched or quarantined message is acknowledged too (it is done, and counted); a processing fault is
/// rejected without requeue, so the queue's dead-letter exchange takes it; a delivery whose outputs could not be stored
/// is returned to the queue for any worker. The prefetch window bounds the unacknowledged deliveries, and as many are
/// processed at once. The client connects to the first reachable URL and recovers onto any of them.
/// </summary>
internal sealed partial class AmqpQueueWorker : IHostedService, IReceiveLoop, IAsyncDisposable
{
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_requeueDelay = TimeSpan.FromSeconds(1);

    private readonly IngressOptions _options;
    private readonly string _clientName;
    private readonly WorkerPipeline _pipeline;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _deliveries = new();
    private IConnection? _connection;
    private IChannel? _channel;
    private Task? _run;
    private int _processing;
    private long _acknowledged;
    private long _rejected;
    private long _requeued;
    private long _redelivered;

    public AmqpQueueWorker(IngressOptions options, string gatewayId, WorkerPipeline pipeline, ILogger<AmqpQueueWorker> logger, TimeProvider time)
    {
        _options = options;
        _clientName = options.EffectiveClientId(gatewayId);
        _pipeline = pipeline;
        _logger = logger;
        _time = time;
    }

    /// <summary>Deliveries acknowledged to the queue.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Deliveries rejected without requeue (to the dead-letter exchange).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Deliveries returned to the queue because their outputs could not be stored.</summary>
    public long Requeued => Interlocked.Read(ref _requeued);

    /// <summary>
    /// The MQTT topic of an <c>amq.topic</c> routing key: the MQTT plugin swaps <c>/</c> and <c>.</c>, so swapping them
    /// back gives the topic the device published to (and the policy's filters match).
    /// </summary>
    public static string TopicOf(string routingKey) =>
        string.Create(routingKey.Length, routingKey, static (span, key) =>
        {
            for (var i = 0; i < key.Length; i++)
            {
                span[i] = key[i] switch
                {
                    '.' => '/',
                    '/' => '.',
                    var c => c,
                };
            }
        });

    // The connecting task ends once connected (the client then recovers by itself): running until stopped, unless it failed.
    public bool IsReceiving => _run is { IsFaulted: false } && !_stopping.IsCancellationRequested;

    public string Name => "the amqp worker";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Start-up does not wait for the cluster: the worker connects in the background, then the client recovers by itself.
        _run = Task.Run(() => ConnectAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var endpoints = _options.Endpoints;
        // Credentials and virtual host come from the first URL; every URL names a node to connect or recover to.
        var factory = new ConnectionFactory
        {
            Uri = endpoints[0],
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = _options.ReconnectMinDelay,
            ConsumerDispatchConcurrency = (ushort)_options.Prefetch,
            ClientProvidedName = _clientName,
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
        };
        var nodes = endpoints.Select(uri => new AmqpTcpEndpoint(uri)).ToList();
        var delay = _options.ReconnectMinDelay;
        var attempt = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                _connection = await factory.CreateConnectionAsync(nodes, _clientName, cancellationToken);
                _connection.ConnectionShutdownAsync += (_, args) =>
                {
                    if (!_stopping.IsCancellationRequested)
                    {
                        LogConnectionLost(_logger, args.ReplyCode);
                    }
                    return Task.CompletedTask;
                };
                _channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
                await _channel.BasicQosAsync(0, (ushort)_options.Prefetch, global: false, cancellationToken);
                var consumer = new AsyncEventingBasicConsumer(_channel);
                consumer.ReceivedAsync += OnDeliveryAsync;
                await _channel.BasicConsumeAsync(_options.Queue!, autoAck: false, consumer, cancellationToken);
                LogConsuming(_logger, _connection.Endpoint.HostName, _connection.Endpoint.Port, _options.Prefetch);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // No node reachable, the queue missing, access refused: the same again, later.
                if (attempt++ % 10 == 0)
                {
                    LogUnreachable(_logger, e.GetType().Name, delay.TotalMilliseconds);
                }
                await CloseAsync();
            }
            try
            {
                await Task.Delay(delay, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
        }
    }

    private async Task OnDeliveryAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var channel = ((AsyncEventingBasicConsumer)sender).Channel;
        if (_stopping.IsCancellationRequested)
        {
            // Stopping: back to the queue for another worker.
            await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None);
            return;
        }
        Interlocked.Increment(ref _processing);
        try
        {
            if (delivery.Redelivered)
            {
                Interlocked.Increment(ref _redelivered);
            }
            // The body is the client's buffer, valid for this handler only: the pipeline copies what it keeps.
            var outcome = await _pipeline.ProcessAsync(TopicOf(delivery.RoutingKey), new ReadOnlySequence<byte>(delivery.Body), _deliveries.Token);
            if (outcome == WorkerOutcome.ProcessingFault)
            {
                // To the dead-letter exchange: the same message would fail the same way on every worker.
                await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false, CancellationToken.None);
                Interlocked.Increment(ref _rejected);
                return;
            }
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None);
            Interlocked.Increment(ref _acknowledged);
        }
        catch (Exception e) when (e is OutboxUnavailableException or OperationCanceledException)
        {
            var deliveries = DeliveryCount(delivery.BasicProperties.Headers) + 1;
            if (deliveries >= _options.MaxDeliveries)
            {
                // Bounded: a message that could not be stored this many times goes to the dead-letter exchange, where an
                // operator can replay it, instead of circling among workers whose outboxes are all failing.
                LogDeliveryLimit(_logger, e.GetType().Name, deliveries);
                Interlocked.Increment(ref _rejected);
                await RejectQuietlyAsync(channel, delivery.DeliveryTag);
                return;
            }
            LogNotStored(_logger, e.GetType().Name);
            Interlocked.Increment(ref _requeued);
            // Not stored: returned to the queue, after a pause so that a worker whose outbox is failing does not spin on it.
            await Task.Delay(s_requeueDelay, _time, CancellationToken.None);
            await NackQuietlyAsync(channel, delivery.DeliveryTag);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            // The channel went away before the acknowledgement: the broker requeues the delivery (a duplicate upstream).
            LogAckFailed(_logger, e.GetType().Name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault outside the engine's own guard (a gate, the encoder): dead-lettered like a processing fault, never
            // requeued, so one message cannot keep every worker busy.
            LogUnexpectedFault(_logger, e.GetType().Name);
            Interlocked.Increment(ref _rejected);
            await RejectQuietlyAsync(channel, delivery.DeliveryTag);
        }
        finally
        {
            Interlocked.Decrement(ref _processing);
        }
    }

    /// <summary>
    /// How often the message was delivered before and returned to the queue: a quorum queue's <c>x-delivery-count</c>
    /// header (absent on the first delivery; classic queues never set it, so they are not bounded here).
    /// </summary>
    internal static long DeliveryCount(IDictionary<string, object?>? headers) =>
        headers is not null && headers.TryGetValue("x-delivery-count", out var value) ? value switch
        {
            long l => l,
            int i => i,
            short s => s,
            byte b => b,
            sbyte sb => sb,
            ushort us => us,
            uint ui => ui,
            _ => 0,
        } : 0;

    private async Task RejectQuietlyAsync(IChannel channel, ulong deliveryTag)
    {
        try
        {
            await channel.BasicRejectAsync(deliveryTag, requeue: false, CancellationToken.None);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            LogAckFailed(_logger, e.GetType().Name);
        }
    }

    private async Task NackQuietlyAsync(IChannel channel, ulong deliveryTag)
    {
        try
        {
            await channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true, CancellationToken.None);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            LogAckFailed(_logger, e.GetType().Name);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_run is not null)
        {
            await _run;
        }
        // Deliveries in processing finish (and are acknowledged) within the drain timeout; later ones went back to the queue.
        var deadline = _time.GetUtcNow() + s_drainTimeout;
        while (Volatile.Read(ref _processing) > 0 && _time.GetUtcNow() < deadline)
        {
            await Task.Delay(20, CancellationToken.None);
        }
        await _deliveries.CancelAsync();
        await CloseAsync();
        long acknowledged = Interlocked.Read(ref _acknowledged), rejected = Interlocked.Read(ref _rejected);
        long requeued = Interlocked.Read(ref _requeued), redelivered = Interlocked.Read(ref _redelivered);
        long unmatched = _pipeline.Unmatched, quarantined = _pipeline.Quarantined;
        LogStopped(_logger, acknowledged, rejected, requeued, redelivered, unmatched, quarantined);
    }

    private async Task CloseAsync()
    {
        await AmqpSession.CloseAsync(_channel, _connection);
        _channel = null;
        _connection = null;
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _stopping.Dispose();
        _deliveries.Dispose();
    }

    [LoggerMessage(EventId = EventIds.WorkerConsuming, Level = LogLevel.Information, Message = "Worker consuming the queue on {Host}:{Port} (prefetch {Prefetch})")]
    private static partial void LogConsuming(ILogger logger, string host, int port, int prefetch);

    [LoggerMessage(EventId = EventIds.WorkerConnectionLost, Level = LogLevel.Warning, Message = "Ingress connection lost (reply code {ReplyCode}); the client recovers onto a configured node")]
    private static partial void LogConnectionLost(ILogger logger, ushort replyCode);

    [LoggerMessage(EventId = EventIds.WorkerUnreachable, Level = LogLevel.Warning, Message = "No ingress node reachable or the queue not consumable ({Error}); retrying with backoff (now up to {DelayMs} ms)")]
    private static partial void LogUnreachable(ILogger logger, string error, double delayMs);

    [LoggerMessage(EventId = EventIds.WorkerNotStored, Level = LogLevel.Error, Message = "A consumed message was not stored ({Error}); returned to the queue")]
    private static partial void LogNotStored(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerDeliveryLimit, Level = LogLevel.Error, Message = "A consumed message was not stored ({Error}) on its delivery {Deliveries}, the bound (Gateway:Ingress:MaxDeliveries); rejected to the dead-letter exchange")]
    private static partial void LogDeliveryLimit(ILogger logger, string error, long deliveries);

    [LoggerMessage(EventId = EventIds.WorkerAckFailed, Level = LogLevel.Warning, Message = "Acknowledgement not sent ({Error}); the broker requeues the delivery (a duplicate upstream)")]
    private static partial void LogAckFailed(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerUnexpectedFault, Level = LogLevel.Error, Message = "Fault while handling a consumed message ({Error}); rejected to the dead-letter exchange")]
    private static partial void LogUnexpectedFault(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerStopped, Level = LogLevel.Information, Message = "Worker stopped: {Acknowledged} acknowledged, {Rejected} rejected to the dead-letter exchange, {Requeued} requeued, {Redelivered} redeliveries received, {Unmatched} unmatched, {Quarantined} quarantined")]
    private static partial void LogStopped(ILogger logger, long acknowledged, long rejected, long requeued, long redelivered, long unmatched, long quarantined);
}
