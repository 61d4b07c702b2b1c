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
}

/// <summary>Thread-safe counters, one per <see cref="ProcessingAction"/>. Incrementing allocates nothing.</summary>
public sealed class ProcessingCounters
{
    internal static readonly int ActionCount = Enum.GetValues<ProcessingAction>().Length;

    private readonly long[] _counts = new long[ActionCount];

    public long this[ProcessingAction action] => Volatile.Read(ref _counts[(int)action]);

    internal void Increment(ProcessingAction action) => Interlocked.Increment(ref _counts[(int)action]);

    internal void Add(ProcessingAction action, long count) => Interlocked.Add(ref _counts[(int)action], count);
}
