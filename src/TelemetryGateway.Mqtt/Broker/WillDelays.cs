using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace TelemetryGateway.Mqtt;

/// <summary>
/// The Will Delay Interval (MQTT 5 §3.1.3.2.2), which MQTTnet 5.2 ignores (it publishes the will as soon as the
/// connection is lost): the will is held for the client's will delay, or its session expiry when that is shorter, and
/// dropped when the client connects again in the meantime. On MQTTnet's hooks: MQTTnet dispatches the will through the
/// publish hook like any publish, but with no PUBLISH packet before it, so a publish of a client whose will has a delay
/// and for which the inbound packet hook saw no PUBLISH is its will. It is held, then injected with the client's session
/// items, so that it passes the same checks (ACL, minimization) as a will without a delay.
/// </summary>
internal sealed class WillDelays(TimeProvider time) : IDisposable
{
    private sealed class Connection(uint delaySeconds)
    {
        public uint DelaySeconds { get; } = delaySeconds;

        // Set by the inbound packet hook, cleared by the publish hook; both run on the connection's receive loop.
        public volatile bool PublishReceived;
    }

    private readonly ConcurrentDictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _held = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private long _dropped;
    private int _disposed;

    /// <summary>Publishes a will that is due (set by the broker: an injection into its server).</summary>
    public Func<string, MqttApplicationMessage, System.Collections.IDictionary, Task>? Publish { get; set; }

    /// <summary>Wills dropped because their client connected again within the delay.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>An accepted CONNECT: a will held for this client id is dropped; a will with a delay is watched for.</summary>
    public void OnConnectionAccepted(string clientId, ValidatingConnectionEventArgs args)
    {
        if (_held.TryRemove(clientId, out var held))
        {
            held.Cancel();
            held.Dispose();
            Interlocked.Increment(ref _dropped);
        }
        var delay = Math.Min(args.WillDelayInterval, args.SessionExpiryInterval);
        if (args.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500 && delay > 0)
        {
            _connections[clientId] = new Connection(delay);
        }
        else
        {
            _connections.TryRemove(clientId, out _);
        }
    }

    /// <summary>Every packet a client sends: a PUBLISH MQTTnet will dispatch is noted.</summary>
    public void OnInboundPacket(InterceptingPacketEventArgs args)
    {
        if (args.Packet is MqttPublishPacket && args.ProcessPacket && _connections.TryGetValue(args.ClientId, out var connection))
        {
            connection.PublishReceived = true;
        }
    }

    /// <summary>
    /// The publish hook, before anything else sees the message: true when it is a will to hold (the caller then does not
    /// process it now).
    /// </summary>
    public bool TryHold(InterceptingPublishEventArgs args)
    {
        if (!_connections.TryGetValue(args.ClientId, out var connection))
        {
            return false;
        }
        if (connection.PublishReceived)
        {
            connection.PublishReceived = false;
            return false;
        }
        if (args.ApplicationMessage.Topic is not { Length: > 0 } topic || topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            // A will MQTTnet could not inject later: it goes on now, to be refused by the topic checks.
            return false;
        }
        if (!_connections.TryRemove(new KeyValuePair<string, Connection>(args.ClientId, connection)))
        {
            return false;
        }
        args.ProcessPublish = false;
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        if (_held.TryRemove(args.ClientId, out var earlier))
        {
            earlier.Cancel();
            earlier.Dispose();
        }
        _held[args.ClientId] = cancel;
        _ = PublishLaterAsync(args.ClientId, args.ApplicationMessage, args.SessionItems, TimeSpan.FromSeconds(connection.DelaySeconds), cancel);
        return true;
    }

    /// <summary>A session is gone: nothing more to watch for its client id.</summary>
    public void OnSessionDeleted(string clientId) => _connections.TryRemove(clientId, out _);

    private async Task PublishLaterAsync(
        string clientId, MqttApplicationMessage will, System.Collections.IDictionary sessionItems, TimeSpan delay, CancellationTokenSource cancel)
    {
        try
        {
            await Task.Delay(delay, time, cancel.Token).ConfigureAwait(false);
            if (!_held.TryRemove(new KeyValuePair<string, CancellationTokenSource>(clientId, cancel)))
            {
                return;
            }
            cancel.Dispose();
            if (Publish is { } publish)
            {
                await publish(clientId, will, sessionItems).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client connected again, or the broker stops.
        }
        catch (InvalidOperationException)
        {
            // The server stopped meanwhile.
        }
        catch (MQTTnet.Exceptions.MqttProtocolViolationException)
        {
            // Refused by MQTTnet's topic validation (checked before holding; kept so that nothing is left unobserved).
        }
    }

    public void Dispose()
    {
        // The broker is disposed once per registration it has in DI (itself and as a hosted service).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        _stopping.Dispose();
    }
}
