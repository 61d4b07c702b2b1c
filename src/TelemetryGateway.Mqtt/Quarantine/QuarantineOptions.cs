namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary><c>Gateway:Quarantine</c>: how much of the quarantine record the gateway keeps, and how loudly it warns.</summary>
public sealed record QuarantineOptions
{
    public static QuarantineOptions Default { get; } = new();

    /// <summary>Size at which <c>quarantine.ndjson</c> is rotated to <c>quarantine.1.ndjson</c> (the older ones shift up).</summary>
    public long MaxFileBytes { get; init; } = 10L << 20;

    /// <summary>Files kept, the current one included; the oldest is deleted at a rotation.</summary>
    public int MaxFiles { get; init; } = 5;

    /// <summary>At most one warning per stream and reason in this interval; the rest are counted into the next one.</summary>
    public TimeSpan WarningInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Records waiting to be written at most; past it records are counted as lost, never block the receive loop.</summary>
    public int MaxPendingRecords { get; init; } = 4096;

    public IEnumerable<string> Validate(string path)
    {
        if (MaxFileBytes < 4096)
        {
            yield return $"{path}:MaxFileBytes must be at least 4096";
        }
        if (MaxFiles is < 1 or > 100)
        {
            yield return $"{path}:MaxFiles must be between 1 and 100";
        }
        if (WarningInterval < TimeSpan.Zero)
        {
            yield return $"{path}:WarningInterval must not be negative";
        }
        if (MaxPendingRecords is < 1 or > 1_000_000)
        {
            yield return $"{path}:MaxPendingRecords must be between 1 and 1000000";
        }
    }
}
