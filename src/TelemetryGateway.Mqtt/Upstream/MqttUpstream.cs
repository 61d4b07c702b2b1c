using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Diagnostics;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// The cloud side: an MQTT 5 client with a persistent session that publishes outputs at QoS 1 with their tags as user
/// properties. Reconnects with exponential backoff and jitter. Many publishes are in flight at once (the window),
/// never more than the broker's Receive Maximum, which the MQTTnet client does not enforce by itself.
/// </summary>
internal sealed partial class MqttUpstream : IUpstream
{
    private readonly UpstreamOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _clientOptions;
    private int _window;
    // The broker's Maximum Packet Size from CONNACK (0: none announced); a larger output is refused without sending it.
    private long _maxPacketSize;
    private SemaphoreSlim _inFlight;

    private readonly MqttInstruments? _instruments;
    private readonly UpstreamBatcher? _batcher;
    private readonly CancellationTokenSource _disposing = new();
    private bool _connectedBefore;

    public MqttUpstream(UpstreamOptions options, ILogger logger, TimeProvider time, MqttInstruments? instruments = null)
    {
        _instruments = instruments;
        _options = options;
        _logger = logger;
        _time = time;
        _window = options.InFlightWindow;
        _inFlight = new SemaphoreSlim(_window, _window);
        _client = new MqttClientFactory().CreateMqttClient(new CoalescingAdapterFactory());
        var endpoint = options.Endpoint ?? throw new InvalidOperationException("No upstream URL is configured.");
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(endpoint.Host, endpoint.IsDefaultPort || endpoint.Port < 0 ? (options.UseTls ? 8883 : 1883) : endpoint.Port)
            .WithClientId(options.ClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)options.SessionExpiry.TotalSeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (options.Username is not null)
        {
            builder.WithCredentials(options.Username, options.Password);
        }
        if (options.UseTls)
        {
            builder.WithTlsOptions(tls =>
            {
                tls.UseTls().WithSslProtocols(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13);
                if (options.CaFile is { } caFile)
                {
                    var chain = new X509Certificate2Collection();
                    chain.ImportFromPemFile(caFile);
                    tls.WithTrustChain(chain);
                }
            });
        }
        _clientOptions = builder.Build();
        // The gateway opens the socket itself to acknowledge what it reads at once (see UpstreamSocketStream).
        var tcp = (MqttClientTcpOptions)_clientOptions.ChannelOptions;
        tcp.StreamProvider = new UpstreamSocketProvider(tcp, _clientOptions.Timeout);
        if (options.Batch.Enabled)
        {
            _batcher = new UpstreamBatcher(options.Batch, options.TopicPrefix, PublishBatchAsync, () => Interlocked.Read(ref _maxPacketSize), time, logger);
            LogBatching(logger, options.Batch.Linger.TotalMilliseconds, options.Batch.MaxOutputs, options.Batch.MaxBytes);
        }
    }

    /// <summary>
    /// Outputs in flight at once: the publishes of the window, times the outputs a batch holds when batching (a batch
    /// is one publish of the window).
    /// </summary>
    public int Window => _batcher is null ? _window : (int)Math.Min((long)_window * _options.Batch.MaxOutputs, 65_535);

    /// <summary><c>host:port</c> of the upstream, for logs (the port matters when several brokers share a host).</summary>
    private string HostAndPort => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"{_options.Endpoint!.Host}:{(_options.Endpoint.IsDefaultPort || _options.Endpoint.Port < 0 ? (_options.UseTls ? 8883 : 1883) : _options.Endpoint.Port)}");

    public bool IsConnected => _client.IsConnected;

    /// <summary>Publishes sent and not yet acknowledged.</summary>
    public int InFlight
    {
        get
        {
            var window = _inFlight;
            return Math.Max(0, _window - window.CurrentCount);
        }
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var delay = _options.ReconnectMinDelay;
        var attempt = 0;
        string? failure = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var result = await _client.ConnectAsync(_clientOptions, cancellationToken);
                if (result.ResultCode == MqttClientConnectResultCode.Success)
                {
                    _maxPacketSize = result.MaximumPacketSize ?? 0;
                    _window = Math.Max(1, Math.Min(_options.InFlightWindow, result.ReceiveMaximum is > 0 ? result.ReceiveMaximum.Value : int.MaxValue));
                    // Publishes still holding the previous connection's window release into that one.
                    _inFlight = new SemaphoreSlim(_window, _window);
                    LogConnected(_logger, HostAndPort, _window, result.IsSessionPresent);
                    if (_connectedBefore)
                    {
                        _instruments?.Reconnected(_options.Endpoint!.Host);
                    }
                    _connectedBefore = true;
                    return;
                }
                LogRefused(_logger, result.ResultCode.ToString());
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Refused, unreachable, reset, TLS failure, timeout: all mean "try again later". Logged at the first
                // failures and then at every tenth, with the wait actually ahead.
                failure = e.GetType().Name;
            }
            // Full jitter keeps a fleet of gateways from reconnecting in lockstep after a cloud outage.
            var jittered = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * delay.TotalMilliseconds) + TimeSpan.FromMilliseconds(10);
            attempt++;
            if (failure is not null && (attempt <= 3 || attempt % 10 == 0))
            {
                LogUnreachable(_logger, HostAndPort, failure, attempt, jittered.TotalMilliseconds, delay.TotalMilliseconds);
            }
            failure = null;
            await Task.Delay(jittered, _time, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.ReconnectMaxDelay.TotalMilliseconds));
        }
    }

    /// <summary>
    /// Publishes at QoS 1; with batching on, an output that may go in a batch waits for its batch's acknowledgement
    /// (<see cref="UpstreamBatcher"/>), any other goes alone.
    /// </summary>
    public Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken) =>
        _batcher is not null && _batcher.TryAdd(message, out var batched) ? batched : PublishAloneAsync(message, cancellationToken);

    private async Task<PublishResult> PublishAloneAsync(UpstreamMessage message, CancellationToken cancellationToken)
    {
        var maxPacketSize = Interlocked.Read(ref _maxPacketSize);
        if (maxPacketSize > 0 && EstimatedPacketSize(message) > maxPacketSize)
        {
            // MQTT 5 §3.1.2.11.4: a client must not send a packet over the server's maximum; the server would close the connection.
            return PublishResult.TooLargeForUpstream;
        }
        return await PublishInWindowAsync(message.ToApplicationMessage(), cancellationToken);
    }

    /// <summary>One batch as one publish of the window; cancelled only when the upstream is disposed.</summary>
    private Task<PublishResult> PublishBatchAsync(OutgoingBatch batch) => PublishInWindowAsync(batch.ToApplicationMessage(), _disposing.Token);

    /// <summary>
    /// Publishes at QoS 1 once the window has room: outputs sent alone, from the drainer and the direct path, and batches
    /// share it, so together they stay within the broker's Receive Maximum.
    /// </summary>
    private async Task<PublishResult> PublishInWindowAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        var window = _inFlight;
        await window.WaitAsync(cancellationToken);
        try
        {
            var sent = _time.GetTimestamp();
            var result = await _client.PublishAsync(message, cancellationToken);
            _instruments?.Acknowledged(_time.GetElapsedTime(sent), _options.Endpoint!.Host);
            return PublishResult.FromReasonCode(result.ReasonCode);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Exceptions.MqttClientNotConnectedException or OperationCanceledException or InvalidOperationException)
        {
            return _client.IsConnected && e is MQTTnet.Exceptions.MqttCommunicationTimedOutException ? PublishResult.TimedOut : PublishResult.ConnectionLost;
        }
        finally
        {
            window.Release();
        }
    }

    /// <summary>
    /// An upper bound of the PUBLISH packet's size: fixed header, topic, packet id, the properties this gateway sets
    /// (content type, expiry, five user properties) and the payload.
    /// </summary>
    internal static long EstimatedPacketSize(UpstreamMessage message)
    {
        long size = 5 + 2 + System.Text.Encoding.UTF8.GetByteCount(message.Topic) + 2 + 4;
        size += 3 + System.Text.Encoding.UTF8.GetByteCount(message.ContentType) + 5;
        size += 5 * 5 + "purpose".Length + "legal-basis".Length + "categories".Length + "policy".Length + "retention".Length;
        size += System.Text.Encoding.UTF8.GetByteCount(message.Purpose) + System.Text.Encoding.UTF8.GetByteCount(message.LegalBasis)
            + System.Text.Encoding.UTF8.GetByteCount(message.Categories) + System.Text.Encoding.UTF8.GetByteCount(message.Policy)
            + System.Text.Encoding.UTF8.GetByteCount(message.Retention);
        if (message.Aggregate is { } aggregate)
        {
            size += (4 * 5) + "anonymous".Length + "true".Length + "window".Length + "k".Length + "epsilon".Length + 11
                + System.Text.Encoding.UTF8.GetByteCount(aggregate.Window) + System.Text.Encoding.UTF8.GetByteCount(aggregate.Epsilon);
        }
        return size + message.Payload.Length;
    }

    public async ValueTask DisposeAsync()
    {
        // Batches still collecting fail (their outputs are stored by whoever waits on them); those sent end with the client.
        _batcher?.Dispose();
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build());
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // Already gone; the session persists on the broker either way.
            }
        }
        await _disposing.CancelAsync();
        _client.Dispose();
        _disposing.Dispose();
    }

    [LoggerMessage(EventId = EventIds.UpstreamBatching, Level = LogLevel.Information,
        Message = "Upstream batching on: outputs of one purpose within {LingerMs} ms go as one EnvelopeBatch of up to {MaxOutputs} outputs and {MaxBytes} bytes")]
    private static partial void LogBatching(ILogger logger, double lingerMs, int maxOutputs, int maxBytes);

    [LoggerMessage(EventId = EventIds.UpstreamConnected, Level = LogLevel.Information, Message = "Upstream {Endpoint} connected (window {Window}, session present: {SessionPresent})")]
    private static partial void LogConnected(ILogger logger, string endpoint, int window, bool sessionPresent);

    [LoggerMessage(EventId = EventIds.UpstreamRefused, Level = LogLevel.Warning, Message = "Upstream refused the connection: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.UpstreamUnreachable, Level = LogLevel.Warning,
        Message = "Upstream {Endpoint} unreachable ({Error}), attempt {Attempt}; next attempt in {NextMs:F0} ms (backoff now up to {DelayMs:F0} ms)")]
    private static partial void LogUnreachable(ILogger logger, string endpoint, string error, int attempt, double nextMs, double delayMs);
}
