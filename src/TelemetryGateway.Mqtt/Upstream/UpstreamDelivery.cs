using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Delivers one message's outputs so that its device may be acknowledged: straight to the upstream when it is connected
/// and nothing is waiting in the outbox (acknowledged upstream), otherwise (or when a direct publish fails transiently,
/// including the upstream client's own 10-second acknowledgement timeout) into the durable outbox; an output the
/// upstream rejects is recorded as a dead letter. Either way every output is acknowledged upstream or stored before
/// this returns. Per-device order holds because the broker hands a client's publishes over one at a time, and a
/// message goes direct only while nothing waits in the outbox for its destination, that is, after everything stored
/// before it for that upstream was acknowledged. One per destination (the region of its upstream).
/// </summary>
internal sealed partial class UpstreamDelivery(IUpstream upstream, SqliteOutbox outbox, ILogger<UpstreamDelivery> logger, string destination = "")
{
    private long _rejected;

    /// <summary>Outputs acknowledged upstream on a direct publish.</summary>
    public DeliveredOutputs Direct { get; } = new();

    public long DeliveredDirectly => Direct.Total;

    /// <summary>Outputs rejected on a direct publish (now dead letters).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public async Task DeliverAsync(IReadOnlyList<UpstreamMessage> outputs, CancellationToken cancellationToken)
    {
        if (!upstream.IsConnected || outbox.CountFor(destination) > 0)
        {
            await StoreAsync(outputs);
            return;
        }
        // No timer of our own per message: the client fails a publish whose acknowledgement does not come in time.
        var publishes = new Task<PublishResult>[outputs.Count];
        for (var i = 0; i < outputs.Count; i++)
        {
            publishes[i] = upstream.PublishAsync(outputs[i], cancellationToken);
        }
        var results = await Task.WhenAll(publishes);
        List<UpstreamMessage>? failed = null;
        List<DeadLetter>? rejected = null;
        for (var i = 0; i < outputs.Count; i++)
        {
            switch (results[i].Outcome)
            {
                case PublishOutcome.Acknowledged:
                    Direct.Add(outputs[i]);
                    break;
                case PublishOutcome.Rejected:
                    (rejected ??= []).Add(new DeadLetter(null, outputs[i], results[i].Reason));
                    break;
                default:
                    (failed ??= []).Add(outputs[i]);
                    break;
            }
        }
        if (rejected is not null)
        {
            // Recorded before the device is acknowledged, like a stored output; not cancellable for the same reason.
            await outbox.DeadLetterAsync(rejected, CancellationToken.None);
            Interlocked.Add(ref _rejected, rejected.Count);
            foreach (var deadLetter in rejected)
            {
                OutboxDrainer.LogDeadLettered(logger, deadLetter.Message.Stream, deadLetter.Message.Purpose, deadLetter.Reason, deadLetter.Message.Payload.Length);
            }
        }
        if (failed is not null)
        {
            LogFallback(logger, failed.Count);
            await StoreAsync(failed);
        }
    }

    /// <summary>Stores outputs; not cancellable, because the outbox outlives every delivery (it is closed last at shutdown).</summary>
    private async Task StoreAsync(IReadOnlyList<UpstreamMessage> outputs)
    {
        await outbox.AppendAsync(outputs, CancellationToken.None);
    }

    [LoggerMessage(EventId = EventIds.DirectFallback, Level = LogLevel.Debug, Message = "{Count} outputs not acknowledged upstream in time; stored in the outbox")]
    private static partial void LogFallback(ILogger logger, int count);
}
