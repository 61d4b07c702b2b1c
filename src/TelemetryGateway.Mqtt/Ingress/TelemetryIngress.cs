using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Diagnostics;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Every publish a device or the app makes passes through here (MQTTnet's intercepting-publish hook, inside the
/// client's receive loop). Local routing is left untouched, so the site keeps working at full fidelity; what is
/// sent to the cloud is only what the engine outputs. A QoS 1 publish is acknowledged only after each of its outputs
/// is acknowledged upstream or committed to the outbox, because MQTTnet queues the PUBACK once this handler returns.
/// </summary>
internal sealed partial class TelemetryIngress(
    MinimizerPool minimizers, UpstreamEncoder encoder, Destinations delivery, QuarantineLog quarantine, ILogger<TelemetryIngress> logger, TimeProvider time,
    MqttInstruments? instruments = null)
    : IDisposable
{
    private const int MaxQos0Deliveries = 4096;
    private readonly SemaphoreSlim _qos0Deliveries = new(MaxQos0Deliveries, MaxQos0Deliveries);
    // Deliveries are bound to the gateway's lifetime, not to a client's connection; cancelled at the end of a stop.
    private readonly CancellationTokenSource _stopping = new();
    private long _unmatched;

    /// <summary>Protocol version of each connected client: reason codes exist only in MQTT 5.</summary>
    public ConcurrentDictionary<string, MqttProtocolVersion> ClientProtocols { get; } = new(StringComparer.Ordinal);

    /// <summary>Publishes whose topic no policy stream matches: counted, not forwarded.</summary>
    public long Unmatched => Interlocked.Read(ref _unmatched);

    /// <summary>
    /// The pipeline for one publish: classify its topic (once), let <paramref name="authorize"/> decide on it with that
    /// classification (the security check; none: allowed), then gate, minimize, tag, and deliver the outputs.
    /// </summary>
    public async Task OnPublishAsync(InterceptingPublishEventArgs args, Func<InterceptingPublishEventArgs, CompiledStream?, bool>? authorize = null)
    {
        if (args.ClientId == SiteBrokerUpstream.SenderClientId)
        {
            return;
        }
        var message = args.ApplicationMessage;
        var receivedAt = time.GetUtcNow();
        List<UpstreamMessage>? outputs = null;
        var minimizer = minimizers.Rent();
        try
        {
            var topic = message.Topic ?? "";
            var stream = minimizer.Classify(topic);
            if (authorize is not null && !authorize(args, stream))
            {
                return;
            }
            if (message.Retain && message.Payload.IsEmpty)
            {
                // An empty retained publish clears the retained message: a broker operation, not telemetry.
                return;
            }
            var result = minimizer.Minimize(topic, message.Payload);
            if (!result.IsMatched)
            {
                Interlocked.Increment(ref _unmatched);
                instruments?.Received(MqttInstruments.NoStream);
                return;
            }
            instruments?.Received(result.Stream!.Name);
            if (result.IsQuarantined)
            {
                instruments?.Quarantined(result.Stream!.Name, result.QuarantineReason);
                if (result.QuarantineReason == Core.Pipeline.QuarantineReason.ProcessingFault)
                {
                    LogProcessingFault(logger, result.Stream!.Name, minimizer.LastFault ?? "unknown");
                }
                quarantine.Record(result.Stream!, result.QuarantineReason, message.Payload);
                if (IsMqtt5(args))
                {
                    // Nothing of it was forwarded: not a success (MQTT 5 clients see why; 3.1.1 has no reason codes).
                    args.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
                    args.Response.ReasonString = "quarantined: " + Core.Pipeline.QuarantineReasonIds.Id(result.QuarantineReason);
                }
                return;
            }
            PublishAcknowledgements.MarkConsumed(args);
            // Copy out of the minimizer's buffers before it goes back to the pool.
            outputs = new List<UpstreamMessage>(result.Outputs.Length);
            var device = result.Outputs.IsEmpty ? "" : topic[result.Device];
            foreach (var output in result.Outputs.Span)
            {
                if (encoder.Encode(output, result.Stream!, receivedAt, device, outputs) == 0)
                {
                    // No upstream lies in a region this purpose may go to: withheld, counted, never sent elsewhere.
                    minimizer.RecordNoDestination(output.Tags);
                }
            }
        }
        finally
        {
            minimizers.Return(minimizer);
        }
        if (outputs.Count == 0)
        {
            return;
        }
        try
        {
            // Delivery is bound to the gateway's lifetime, not the client's connection: what was accepted is delivered
            // even when the device disconnects right after publishing.
            if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
            {
                // QoS 0 promises the device nothing, so its receive loop is not held for the delivery; a bounded number
                // of such deliveries run at once, beyond which the device's receive loop waits (backpressure).
                await _qos0Deliveries.WaitAsync(_stopping.Token);
                _ = DeliverQos0Async(outputs);
            }
            else
            {
                await delivery.DeliverAsync(outputs, _stopping.Token);
            }
        }
        catch (Exception e) when (e is OutboxUnavailableException or OperationCanceledException)
        {
            LogNotStored(logger, e.GetType().Name);
            // Not stored, so not acknowledged: MQTT 5 clients get a reason code, 3.1.1 clients (which cannot see one)
            // lose the connection and resend the message after reconnecting.
            if (IsMqtt5(args))
            {
                args.Response.ReasonCode = MqttPubAckReasonCode.ImplementationSpecificError;
                args.Response.ReasonString = "gateway could not store the message";
            }
            else
            {
                args.CloseConnection = true;
            }
        }
    }

    private async Task DeliverQos0Async(List<UpstreamMessage> outputs)
    {
        try
        {
            await delivery.DeliverAsync(outputs, _stopping.Token);
        }
        catch (Exception e) when (e is OutboxUnavailableException or OperationCanceledException)
        {
            LogNotStored(logger, e.GetType().Name);
        }
        finally
        {
            _qos0Deliveries.Release();
        }
    }

    /// <summary>Cancels the deliveries still running (after <see cref="WaitForDeliveriesAsync"/> at shutdown).</summary>
    public Task CancelDeliveriesAsync() => _stopping.CancelAsync();

    public void Dispose()
    {
        _qos0Deliveries.Dispose();
        _stopping.Dispose();
    }

    /// <summary>Waits, up to <paramref name="timeout"/>, for the QoS 0 deliveries still running (at shutdown).</summary>
    public async Task<bool> WaitForDeliveriesAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (var acquired = 0; acquired < MaxQos0Deliveries; acquired++)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero || !await _qos0Deliveries.WaitAsync(remaining))
            {
                if (acquired > 0)
                {
                    _qos0Deliveries.Release(acquired);
                }
                return false;
            }
        }
        _qos0Deliveries.Release(MaxQos0Deliveries);
        return true;
    }

    private bool IsMqtt5(InterceptingPublishEventArgs args) => IsMqtt5(args.ClientId);

    /// <summary>True when the connected client <paramref name="clientId"/> speaks MQTT 5 (and so can see reason codes).</summary>
    public bool IsMqtt5(string clientId) => ClientProtocols.TryGetValue(clientId, out var version) && version == MqttProtocolVersion.V500;

    // The client id is not logged: devices often use their serial number as client id.
    [LoggerMessage(EventId = EventIds.PublishNotStored, Level = LogLevel.Error, Message = "A publish was not stored ({Error}); it is not acknowledged")]
    private static partial void LogNotStored(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.ProcessingFault, Level = LogLevel.Error, Message = "Processing fault on a {Stream} message ({Error}); quarantined, nothing of it was forwarded")]
    private static partial void LogProcessingFault(ILogger logger, string stream, string error);
}
