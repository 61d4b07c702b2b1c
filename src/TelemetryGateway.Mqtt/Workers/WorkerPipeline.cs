using System.Buffers;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Workers;

/// <summary>What became of one consumed message; the consumer acknowledges, or rejects, accordingly.</summary>
internal enum WorkerOutcome
{
    /// <summary>Every output is acknowledged upstream or stored in the outbox: acknowledge.</summary>
    Delivered,

    /// <summary>Matched, but no purpose produced an output (consent, an empty retained clear): done, acknowledge.</summary>
    NothingToDeliver,

    /// <summary>No policy stream matches the topic: counted, acknowledged.</summary>
    Unmatched,

    /// <summary>Quarantined by the policy (too large, malformed...): recorded, acknowledged.</summary>
    Quarantined,

    /// <summary>The engine failed on the message: recorded in the quarantine; AMQP rejects it to the dead-letter exchange.</summary>
    ProcessingFault,
}

/// <summary>
/// The site broker's pipeline for a message consumed from a cluster: classify, gate, minimize, tag (the shared
/// <see cref="MinimizerPool"/>), encode, then deliver through the same <see cref="Destinations"/> (each region's upstream
/// or the outbox). Returns only once the outputs are safe; throws <see cref="OutboxUnavailableException"/> or
/// <see cref="OperationCanceledException"/> when they are not, and the message must then not be acknowledged.
/// </summary>
internal sealed partial class WorkerPipeline(
    MinimizerPool minimizers, UpstreamEncoder encoder, Destinations delivery, QuarantineLog quarantine, ILogger<WorkerPipeline> logger, TimeProvider time)
{
    private long _delivered;
    private long _unmatched;
    private long _quarantined;
    private long _faults;

    public long Delivered => Interlocked.Read(ref _delivered);
    public long Unmatched => Interlocked.Read(ref _unmatched);
    public long Quarantined => Interlocked.Read(ref _quarantined);
    public long ProcessingFaults => Interlocked.Read(ref _faults);

    public async Task<WorkerOutcome> ProcessAsync(string topic, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        var receivedAt = time.GetUtcNow();
        List<UpstreamMessage> outputs;
        var minimizer = minimizers.Rent();
        try
        {
            var result = minimizer.Minimize(topic, payload);
            if (!result.IsMatched)
            {
                Interlocked.Increment(ref _unmatched);
                return WorkerOutcome.Unmatched;
            }
            if (result.IsQuarantined)
            {
                quarantine.Record(result.Stream!, result.QuarantineReason, payload);
                if (result.QuarantineReason == QuarantineReason.ProcessingFault)
                {
                    Interlocked.Increment(ref _faults);
                    LogProcessingFault(logger, result.Stream!.Name, minimizer.LastFault ?? "unknown");
                    return WorkerOutcome.ProcessingFault;
                }
                Interlocked.Increment(ref _quarantined);
                return WorkerOutcome.Quarantined;
            }
            // Copied out of the minimizer's buffers before it goes back to the pool.
            outputs = new List<UpstreamMessage>(result.Outputs.Length);
            foreach (var output in result.Outputs.Span)
            {
                if (encoder.Encode(output, result.Stream!, receivedAt, "", outputs) == 0)
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
            return WorkerOutcome.NothingToDeliver;
        }
        await delivery.DeliverAsync(outputs, cancellationToken);
        Interlocked.Increment(ref _delivered);
        return WorkerOutcome.Delivered;
    }

    [LoggerMessage(EventId = EventIds.WorkerProcessingFault, Level = LogLevel.Error, Message = "Processing fault on a consumed {Stream} message ({Error}); quarantined, nothing of it was forwarded")]
    private static partial void LogProcessingFault(ILogger logger, string stream, string error);
}
