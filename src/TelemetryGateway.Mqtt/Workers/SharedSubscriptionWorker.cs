using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>
/// Ingress mode <c>mqtt-shared</c>: one worker of a group consuming <c>$share/{group}/{filter}</c> for every policy
/// stream on an MQTT 5 broker. Its session is persistent under a stable client id, so what the broker handed it and it
/// did not acknowledge is handed to it again when it comes back. A message is acknowledged (PUBACK) only after its
/// outputs are acknowledged upstream or stored in the outbox; at most <see cref="IngressOptions.Prefetch"/> are in
/// processing at once (the Receive Maximum the worker announces). Fails over among the configured URLs in order.
/// </summary>
internal sealed partial class SharedSubscriptionWorker : IHostedService, IReceiveLoop, IDisposable
{
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(10);

    private readonly IngressOptions _options;
    private readonly WorkerPipeline _pipeline;
    private readonly PolicyGenerations _generations;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<Uri> _endpoints;
    private readonly string _clientId;
    private readonly IMqttClient _client;
    private readonly SemaphoreSlim _window;
    // Stops taking new messages; the deliveries already running go on until _deliveries is cancelled.
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _deliveries = new();
    // Subscribing on connect and re-subscribing after a policy reload take turns, so each diffs against what is subscribed.
    private readonly SemaphoreSlim _subscribing = new(1, 1);
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);
    private TaskCompletionSource _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Acknowledgements belong to the connection that received the message; a later connection is redelivered it instead.
    private int _connection;
    private Task? _run;
    private long _acknowledged;
    private long _notStored;

    public SharedSubscriptionWorker(IngressOptions options, string gatewayId, WorkerPipeline pipeline, PolicyGenerations generations, ILogger<SharedSubscriptionWorker> logger, TimeProvider time)
    {
        _options = options;
        _pipeline = pipeline;
        _generations = generations;
        _logger = logger;
        _time = time;
        _endpoints = options.Endpoints;
        _clientId = options.EffectiveClientId(gatewayId);
        _window = new SemaphoreSlim(options.Prefetch, options.Prefetch);
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += args =>
        {
            _disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        _generations.Swapped += OnPolicySwapped;
    }

    /// <summary>Messages acknowledged to the broker.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>
    /// The subscription filters: each stream's topic filter with its named captures as <c>+</c>, under
    /// <c>$share/{group}/</c>, without duplicates (several streams may share a filter).
    /// </summary>
    public static IReadOnlyList<string> SubscriptionFilters(CompiledPolicy policy, string group)
    {
        var filters = new List<string>();
        foreach (var stream in policy.Streams)
        {
            var levels = stream.Filter.Text.Split('/');
            for (var i = 0; i < levels.Length; i++)
            {
                if (levels[i].StartsWith('{') && levels[i].EndsWith('}'))
                {
                    levels[i] = "+";
                }
            }
            var filter = $"$share/{group}/{string.Join('/', levels)}";
            if (!filters.Contains(filter))
            {
                filters.Add(filter);
            }
        }
        return filters;
    }

    public bool IsReceiving => _run is { IsCompleted: false };

    public string Name => "the mqtt-shared worker";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Start-up does not wait for the cluster: the worker connects (and reconnects) in the background.
        _run = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = _options.ReconnectMinDelay;
        var endpoint = 0;
        var attempt = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var uri = _endpoints[endpoint];
            try
            {
                _disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Interlocked.Increment(ref _connection);
                var result = await _client.ConnectAsync(ClientOptions(uri), cancellationToken);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    LogRefused(_logger, uri.Host, result.ResultCode.ToString());
                }
                else
                {
                    var filters = await SubscribeAsync(result.IsSessionPresent, cancellationToken);
                    LogSubscribed(_logger, uri.Host, _options.Group, filters, result.IsSessionPresent, _options.Prefetch);
                    delay = _options.ReconnectMinDelay;
                    attempt = 0;
                    await _disconnected.Task.WaitAsync(cancellationToken);
                    LogDisconnected(_logger, uri.Host);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Refused, unreachable, reset, timeout: the next URL, later.
                if (attempt++ % 10 == 0)
                {
                    LogUnreachable(_logger, uri.Host, e.GetType().Name, delay.TotalMilliseconds);
                }
            }
            endpoint = (endpoint + 1) % _endpoints.Count;
            try
            {
                var jittered = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * delay.TotalMilliseconds);
                await Task.Delay(jittered + TimeSpan.FromMilliseconds(10), _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
        }
    }

    /// <summary>
    /// On a new connection: subscribes every filter of the running policy (again: a broker may have lost the session),
    /// and, when the session was kept, unsubscribes the filters this process subscribed that the policy no longer has.
    /// Returns the number of filters.
    /// </summary>
    private async Task<int> SubscribeAsync(bool sessionPresent, CancellationToken cancellationToken)
    {
        await _subscribing.WaitAsync(cancellationToken);
        try
        {
            var filters = SubscriptionFilters(_generations.Current.Policy, _options.Group);
            var subscribe = new MqttClientSubscribeOptionsBuilder();
            foreach (var filter in filters)
            {
                subscribe.WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
            }
            await _client.SubscribeAsync(subscribe.Build(), cancellationToken);
            var stale = _subscribed.Except(filters, StringComparer.Ordinal).ToList();
            if (sessionPresent && stale.Count > 0)
            {
                await _client.UnsubscribeAsync(Unsubscribe(stale), cancellationToken);
            }
            _subscribed.Clear();
            _subscribed.UnionWith(filters);
            return filters.Count;
        }
        finally
        {
            _subscribing.Release();
        }
    }

    private void OnPolicySwapped(PolicyGeneration generation) => _ = ResubscribeAsync(generation);

    /// <summary>
    /// After a policy reload: subscribes the filters of streams the new policy added and unsubscribes those it removed.
    /// Not connected, or failing: the next connection subscribes the running policy's filters anyway.
    /// </summary>
    private async Task ResubscribeAsync(PolicyGeneration generation)
    {
        try
        {
            await _subscribing.WaitAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            if (!_client.IsConnected || _generations.Current != generation)
            {
                // Not connected (the connection subscribes), or a later reload follows and does it.
                return;
            }
            var filters = SubscriptionFilters(generation.Policy, _options.Group);
            var added = filters.Where(f => !_subscribed.Contains(f)).ToList();
            var removed = _subscribed.Except(filters, StringComparer.Ordinal).ToList();
            if (added.Count > 0)
            {
                var subscribe = new MqttClientSubscribeOptionsBuilder();
                foreach (var filter in added)
                {
                    subscribe.WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
                }
                await _client.SubscribeAsync(subscribe.Build(), _stopping.Token);
                _subscribed.UnionWith(added);
            }
            if (removed.Count > 0)
            {
                await _client.UnsubscribeAsync(Unsubscribe(removed), _stopping.Token);
                _subscribed.ExceptWith(removed);
            }
            LogResubscribed(_logger, added.Count, removed.Count, _subscribed.Count);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException
            or OperationCanceledException or InvalidOperationException)
        {
            LogResubscribeFailed(_logger, e.GetType().Name);
        }
        finally
        {
            _subscribing.Release();
        }
    }

    private static MqttClientUnsubscribeOptions Unsubscribe(IEnumerable<string> filters)
    {
        var unsubscribe = new MqttClientUnsubscribeOptionsBuilder();
        foreach (var filter in filters)
        {
            unsubscribe.WithTopicFilter(filter);
        }
        return unsubscribe.Build();
    }

    private MqttClientOptions ClientOptions(Uri uri)
    {
        var tls = uri.Scheme == "mqtts";
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? (tls ? 8883 : 1883) : uri.Port)
            .WithClientId(_clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            // A persistent session: what the broker handed this worker survives its restart under the same client id.
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)_options.SessionExpiry.TotalSeconds)
            .WithReceiveMaximum((ushort)_options.Prefetch)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_options.Username is not null)
        {
            builder.WithCredentials(_options.Username, _options.Password);
        }
        if (tls)
        {
            builder.WithTlsOptions(o =>
            {
                o.UseTls().WithSslProtocols(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
                if (_options.CaFile is { } caFile)
                {
                    var chain = new X509Certificate2Collection();
                    chain.ImportFromPemFile(caFile);
                    o.WithTrustChain(chain);
                }
            });
        }
        return builder.Build();
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        // Acknowledged below, once the outputs are safe, never by the client library on return.
        args.AutoAcknowledge = false;
        var connection = Volatile.Read(ref _connection);
        try
        {
            // The client hands messages over one at a time: waiting here is the backpressure.
            await _window.WaitAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping: left unacknowledged, so the broker hands it over again with the session.
            return;
        }
        _ = ProcessAsync(args, connection);
    }

    private async Task ProcessAsync(MqttApplicationMessageReceivedEventArgs args, int connection)
    {
        try
        {
            // Processed after the handler returned: MQTTnet decodes each PUBLISH payload into an array of its own, which
            // stays valid (not a pooled buffer the next packet reuses).
            var message = args.ApplicationMessage;
            // A processing fault is recorded in the quarantine and acknowledged: MQTT has no dead-letter queue, and
            // the same message would fail the same way each time it came back.
            await _pipeline.ProcessAsync(message.Topic ?? "", message.Payload, _deliveries.Token);
            if (connection != Volatile.Read(ref _connection) || !_client.IsConnected)
            {
                // Received on a connection that is gone: the broker resends it on the new one (a duplicate upstream).
                return;
            }
            await args.AcknowledgeAsync(CancellationToken.None);
            Interlocked.Increment(ref _acknowledged);
        }
        catch (Exception e) when (e is OutboxUnavailableException or OperationCanceledException)
        {
            Interlocked.Increment(ref _notStored);
            LogNotStored(_logger, e.GetType().Name);
            // Not acknowledged. A broker resends an unacknowledged message only on a new connection of the session.
            await ReconnectAsync();
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException or InvalidOperationException)
        {
            LogAckFailed(_logger, e.GetType().Name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault outside the engine's own guard (a gate, the encoder): not acknowledged, since it may pass on a
            // later try, and handed over again on the next connection.
            LogUnexpectedFault(_logger, e.GetType().Name);
            await ReconnectAsync();
        }
        finally
        {
            _window.Release();
        }
    }

    private async Task ReconnectAsync()
    {
        if (_stopping.IsCancellationRequested || !_client.IsConnected)
        {
            return;
        }
        try
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.UnspecifiedError).Build());
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
            // Already disconnected: the run loop reconnects either way.
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // No new messages; those in processing finish (and are acknowledged) within the drain timeout.
        await _stopping.CancelAsync();
        var drained = 0;
        var deadline = _time.GetUtcNow() + s_drainTimeout;
        while (drained < _options.Prefetch)
        {
            var remaining = deadline - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero || !await _window.WaitAsync(remaining, CancellationToken.None))
            {
                break;
            }
            drained++;
        }
        await _deliveries.CancelAsync();
        if (_run is not null)
        {
            await _run;
        }
        if (_client.IsConnected)
        {
            try
            {
                // A normal disconnect keeps the session: the unacknowledged messages wait for this client id.
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), CancellationToken.None);
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // Already gone.
            }
        }
        long acknowledged = Acknowledged, notStored = Interlocked.Read(ref _notStored);
        long unmatched = _pipeline.Unmatched, quarantined = _pipeline.Quarantined, faults = _pipeline.ProcessingFaults;
        LogStopped(_logger, acknowledged, notStored, unmatched, quarantined, faults);
    }

    public void Dispose()
    {
        _generations.Swapped -= OnPolicySwapped;
        _client.Dispose();
        _subscribing.Dispose();
        _window.Dispose();
        _stopping.Dispose();
        _deliveries.Dispose();
    }

    [LoggerMessage(EventId = EventIds.WorkerSubscribed, Level = LogLevel.Information, Message = "Worker subscribed on {Host} in group {Group}: {Filters} shared filters (session present: {SessionPresent}, receive maximum {Prefetch})")]
    private static partial void LogSubscribed(ILogger logger, string host, string group, int filters, bool sessionPresent, int prefetch);

    [LoggerMessage(EventId = EventIds.WorkerResubscribed, Level = LogLevel.Information, Message = "Policy reloaded: {Added} shared filters subscribed, {Removed} unsubscribed ({Filters} now)")]
    private static partial void LogResubscribed(ILogger logger, int added, int removed, int filters);

    [LoggerMessage(EventId = EventIds.WorkerResubscribeFailed, Level = LogLevel.Warning, Message = "Policy reloaded but the subscriptions were not changed ({Error}); the next connection subscribes the running policy's filters")]
    private static partial void LogResubscribeFailed(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerUnreachable, Level = LogLevel.Warning, Message = "Ingress broker {Host} unreachable ({Error}); trying the next URL with backoff (now up to {DelayMs} ms)")]
    private static partial void LogUnreachable(ILogger logger, string host, string error, double delayMs);

    [LoggerMessage(EventId = EventIds.WorkerRefused, Level = LogLevel.Warning, Message = "Ingress broker {Host} refused the connection: {Reason}")]
    private static partial void LogRefused(ILogger logger, string host, string reason);

    [LoggerMessage(EventId = EventIds.WorkerDisconnected, Level = LogLevel.Warning, Message = "Ingress broker {Host} disconnected; reconnecting")]
    private static partial void LogDisconnected(ILogger logger, string host);

    [LoggerMessage(EventId = EventIds.WorkerNotStored, Level = LogLevel.Error, Message = "A consumed message was not stored ({Error}); not acknowledged, the broker hands it over again")]
    private static partial void LogNotStored(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerAckFailed, Level = LogLevel.Warning, Message = "Acknowledgement not sent ({Error}); the broker hands the message over again (a duplicate upstream)")]
    private static partial void LogAckFailed(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerUnexpectedFault, Level = LogLevel.Error, Message = "Fault while handling a consumed message ({Error}); not acknowledged, the broker hands it over again")]
    private static partial void LogUnexpectedFault(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.WorkerStopped, Level = LogLevel.Information, Message = "Worker stopped: {Acknowledged} acknowledged, {NotStored} not stored, {Unmatched} unmatched, {Quarantined} quarantined, {Faults} processing faults")]
    private static partial void LogStopped(ILogger logger, long acknowledged, long notStored, long unmatched, long quarantined, long faults);
}
