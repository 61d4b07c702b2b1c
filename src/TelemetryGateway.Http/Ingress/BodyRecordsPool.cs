using System.Collections.Concurrent;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Records of processing for streamed bodies: each <see cref="BodyRecords"/> has one writer at a time, so one is rented
/// per count. The pool grows to the number of concurrent uploads and no further (each instance adds one shard per
/// purpose to the policy's counters, so instances are never thrown away).
/// </summary>
internal sealed class BodyRecordsPool(CompiledPolicy policy)
{
    private readonly ConcurrentBag<BodyRecords> _pool = [];

    public void Forwarded(StreamPurpose purpose, in ProcessingTally tally)
    {
        var records = _pool.TryTake(out var pooled) ? pooled : new BodyRecords(policy);
        records.Forwarded(purpose, tally);
        _pool.Add(records);
    }
}
