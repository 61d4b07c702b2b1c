using System.Collections.Concurrent;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Support;

/// <summary>
/// An upstream whose answer to each publish comes from a script: acknowledged, a transient failure, a rejection, or a
/// closed connection (the publish fails and the upstream is disconnected until the next connect).
/// </summary>
internal sealed class ScriptedUpstream(Func<UpstreamMessage, int, ScriptedAnswer> script, int window = 8) : IUpstream
{
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private volatile bool _connected;
    private int _connects;

    /// <summary>Topics acknowledged, in the order the publishes were made.</summary>
    public ConcurrentQueue<string> Acknowledged { get; } = new();

    /// <summary>The outputs acknowledged, in the order the publishes were made.</summary>
    public ConcurrentQueue<UpstreamMessage> AcknowledgedMessages { get; } = new();

    /// <summary>Every publish made, acknowledged or not.</summary>
    public ConcurrentQueue<string> Published { get; } = new();

    public int Connects => Volatile.Read(ref _connects);
    public int Window => window;
    public bool IsConnected => _connected;

    public int Attempts(string topic) => _attempts.TryGetValue(topic, out var count) ? count : 0;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _connects);
        _connected = true;
        return Task.CompletedTask;
    }

    public async Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken)
    {
        // Like an MQTT client, the publish goes on the wire in call order; its answer comes later.
        PublishResult result;
        lock (_attempts)
        {
            result = Answer(message);
        }
        await Task.Yield();
        return result;
    }

    private PublishResult Answer(UpstreamMessage message)
    {
        if (!_connected)
        {
            return PublishResult.ConnectionLost;
        }
        Published.Enqueue(message.Topic);
        var attempt = _attempts.AddOrUpdate(message.Topic, 1, static (_, count) => count + 1);
        switch (script(message, attempt))
        {
            case ScriptedAnswer.Acknowledge:
                Acknowledged.Enqueue(message.Topic);
                AcknowledgedMessages.Enqueue(message);
                return PublishResult.Acknowledged;
            case ScriptedAnswer.Reject:
                return PublishResult.FromReasonCode(MQTTnet.MqttClientPublishReasonCode.NotAuthorized);
            case ScriptedAnswer.Busy:
                return PublishResult.FromReasonCode(MQTTnet.MqttClientPublishReasonCode.QuotaExceeded);
            default:
                _connected = false;
                return PublishResult.ConnectionLost;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal enum ScriptedAnswer
{
    Acknowledge,
    Reject,
    Busy,
    CloseConnection,
}
