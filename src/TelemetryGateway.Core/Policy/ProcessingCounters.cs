namespace TelemetryGateway.Core.Policy;

/// <summary>What the minimizer did, counted per stream and purpose (privacy model, principle 7).</summary>
public enum ProcessingAction
{
    /// <summary>An output was produced.</summary>
    Forwarded,
    /// <summary>A field was dropped, by rule or because the policy does not name it.</summary>
    Dropped,
    /// <summary>A value was replaced by its keyed pseudonym.</summary>
    Hashed,
    /// <summary>An IP address was truncated, coordinates coarsened or geography generalized.</summary>
    Coarsened,
    /// <summary>A text value was scrubbed.</summary>
    Redacted,
    /// <summary>A value did not have the type its transform needs, so it was dropped.</summary>
    TypeMismatch,
    /// <summary>A consent-based purpose was skipped because no consent is on record.</summary>
    NoConsent,
    /// <summary>A well-formed message had nothing this purpose may receive (e.g. a message type its rules do not name).</summary>
    Withheld,
    /// <summary>The device's data subject objected to this purpose, or to every legitimate-interest purpose (notice 9.8).</summary>
    Objected,
    /// <summary>The device's processing is restricted to other purposes (notice 9.4).</summary>
    Restricted,
    /// <summary>A message was folded into an aggregate entry's open window (no per-message output; issue 18).</summary>
    Aggregated,
    /// <summary>An output was produced but no configured upstream lies in a region its purpose may go to (notice §7): not sent.</summary>
    NoDestination,
}

/// <summary>
/// Counters, one per <see cref="ProcessingAction"/>, read from any thread. Each minimizer counts into a shard of its
/// own (one writer, plain additions, no atomic operation per message); a read sums the shards.
/// </summary>
public sealed class ProcessingCounters
{
    internal static readonly int ActionCount = Enum.GetValues<ProcessingAction>().Length;

    private readonly Lock _lock = new();
    private long[][] _shards = [];

    public long this[ProcessingAction action]
    {
        get
        {
            long total = 0;
            foreach (var shard in Volatile.Read(ref _shards))
            {
                total += Volatile.Read(ref shard[(int)action]);
            }
            return total;
        }
    }

    /// <summary>A new shard for one writer; only that writer adds to it (a 64-bit count is read whole from any thread).</summary>
    internal long[] NewShard()
    {
        var shard = new long[ActionCount];
        lock (_lock)
        {
            Volatile.Write(ref _shards, [.. _shards, shard]);
        }
        return shard;
    }
}
