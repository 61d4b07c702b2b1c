using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>The record step's one mapping: a scrubbed log is recorded the same way over MQTT and over HTTP.</summary>
public sealed class ProcessingTallyTests
{
    private static readonly LogScrubCounts s_counts = new()
    {
        Secrets = 1,
        WifiNames = 1,
        EmailAddresses = 1,
        PhoneNumbers = 1,
        MacAddresses = 1,
        IpAddresses = 2,
        Coordinates = 1,
        Serials = 4,
        TruncatedLines = 3,
    };

    [Fact]
    public void A_log_s_cut_lines_are_dropped_and_its_replaced_secrets_redacted()
    {
        var tally = ProcessingTally.FromLogScrub(s_counts, SerialHandling.Pseudonymize);

        Assert.Equal(new ProcessingTally(Dropped: 3, Redacted: 5, Hashed: 4, Coarsened: 3), tally);
    }

    [Fact]
    public void A_dropped_serial_is_redacted_not_hashed()
    {
        var tally = ProcessingTally.FromLogScrub(s_counts, SerialHandling.Drop);

        Assert.Equal(new ProcessingTally(Dropped: 3, Redacted: 9, Hashed: 0, Coarsened: 3), tally);
    }

    [Fact]
    public void A_tally_round_trips_through_a_counter_shard()
    {
        var shard = new long[ProcessingCounters.ActionCount];
        var tally = new ProcessingTally(1, 2, 3, 4, 5);

        tally.AddTo(shard);
        tally.AddTo(shard);

        Assert.Equal(new ProcessingTally(2, 4, 6, 8, 10), ProcessingTally.FromShard(shard));
        Assert.Equal(0, shard[(int)ProcessingAction.Forwarded]);
    }
}
