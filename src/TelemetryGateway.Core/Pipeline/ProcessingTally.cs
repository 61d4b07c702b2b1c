using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// The record step's input for one output: what its rewrite did, per action (counts, never values). The one mapping
/// from a format's own counts to the records of processing, so that a log line or a JSON body is recorded the same way
/// whether it came over MQTT or HTTP, and a body is recorded only once it was forwarded.
/// </summary>
public readonly record struct ProcessingTally(int Dropped, int Redacted, int Hashed, int Coarsened, int TypeMismatch = 0)
{
    /// <summary>
    /// A scrubbed log: replaced secrets, Wi-Fi names, e-mails, phones and MACs are redacted; lines cut at their limit
    /// are dropped (their end is); IPs and coordinates are coarsened; the device's serial is hashed when it becomes its
    /// pseudonym, redacted when it is dropped.
    /// </summary>
    public static ProcessingTally FromLogScrub(in LogScrubCounts counts, SerialHandling serial)
    {
        var replaced = counts.Secrets + counts.WifiNames + counts.LearnedValues + counts.EmailAddresses + counts.PhoneNumbers + counts.MacAddresses;
        var coarsened = counts.IpAddresses + counts.Coordinates;
        return serial == SerialHandling.Pseudonymize
            ? new ProcessingTally(counts.TruncatedLines, replaced, counts.Serials, coarsened)
            : new ProcessingTally(counts.TruncatedLines, replaced + counts.Serials, 0, coarsened);
    }

    /// <summary>The counts of a counter shard (indexed by <see cref="ProcessingAction"/>).</summary>
    public static ProcessingTally FromShard(ReadOnlySpan<long> shard) => new(
        (int)shard[(int)ProcessingAction.Dropped], (int)shard[(int)ProcessingAction.Redacted], (int)shard[(int)ProcessingAction.Hashed],
        (int)shard[(int)ProcessingAction.Coarsened], (int)shard[(int)ProcessingAction.TypeMismatch]);

    /// <summary>Adds these counts to a counter shard.</summary>
    public void AddTo(Span<long> shard)
    {
        shard[(int)ProcessingAction.Dropped] += Dropped;
        shard[(int)ProcessingAction.Redacted] += Redacted;
        shard[(int)ProcessingAction.Hashed] += Hashed;
        shard[(int)ProcessingAction.Coarsened] += Coarsened;
        shard[(int)ProcessingAction.TypeMismatch] += TypeMismatch;
    }
}
