using Microsoft.Extensions.Logging;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Delivers one message's outputs so that its device may be acknowledged: straight to the upstream when it is connected
/// and nothing is waiting in the outbox (acknowledged upstream), otherwise (or when a direct publish fails, including
/// the upstream client's own 10-second acknowledgement timeout) into the durable outbox. Either way every output is acknowledged upstream or stored before this returns.
/// Per-device order holds because the broker hands a client's publishes over one at a time, and a message goes direct
/// only while the outbox is empty, that is, after everything stored before it was acknowledged.
/// </summary>
internal sealed partial class UpstreamDelivery(IUpstream upstream, SqliteOutbox outbox, ILogger<UpstreamDelivery> logger)
{
    private long _direct;

    public long DeliveredDirectly => Interlocked.Read(ref _direct);

    public async Task DeliverAsync(IReadOnlyList<UpstreamMessage> outputs, CancellationToken cancellationToken)
    {
        if (!upstream.IsConnected || outbox.Count > 0)
        {
            await StoreAsync(outputs);
            return;
        }
        // No timer of our own per message: the client fails a publish whose acknowledgement does not come in time.
        var publishes = new Task<bool>[outputs.Count];
        for (var i = 0; i < outputs.Count; i++)
        {
            publishes[i] = upstream.PublishAsync(outputs[i], cancellationToken);
        }
        var acknowledged = await Task.WhenAll(publishes);
        List<UpstreamMessage>? failed = null;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (acknowledged[i])
            {
                Interlocked.Increment(ref _direct);
            }
            else
            {
                (failed ??= []).Add(outputs[i]);
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

    [LoggerMessage(EventId = 221, Level = LogLevel.Debug, Message = "{Count} outputs not acknowledged upstream in time; stored in the outbox")]
    private static partial void LogFallback(ILogger logger, int count);
}
