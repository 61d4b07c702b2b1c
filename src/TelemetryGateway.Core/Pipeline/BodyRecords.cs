using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// Records of processing for bodies the engine rewrote outside <see cref="Minimizer"/> (streamed logs and photos over
/// HTTP): what was forwarded and what was dropped, redacted, hashed or coarsened, counted for the stream purpose the
/// body was for, as counts only.
/// </summary>
/// <remarks>
/// Counts go to this instance's own shard of each purpose's counters (one writer, plain additions, as
/// <see cref="Minimizer"/> does). One instance per user at a time: keep it with a pooled rewriter.
/// </remarks>
public sealed class BodyRecords
{
    private readonly long[]?[] _shards;

    public BodyRecords(CompiledPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _shards = new long[policy.PurposeCount][];
    }

    /// <summary>Counts one forwarded body for <paramref name="purpose"/> and what its rewrite did to it.</summary>
    public void Forwarded(StreamPurpose purpose, in ProcessingTally tally)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        var shard = _shards[purpose.Index] ??= purpose.Counters.NewShard();
        shard[(int)ProcessingAction.Forwarded]++;
        tally.AddTo(shard);
    }
}
