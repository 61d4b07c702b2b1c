using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Outbox;

/// <summary>The age of the oldest output waiting in the outbox, on a real SQLite file and a hand-moved clock.</summary>
public sealed class OutboxOldestAgeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-outbox-age-").FullName;
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Is_zero_when_nothing_waits_and_follows_the_oldest_output_as_outputs_are_acknowledged()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, _time);
        Assert.Equal(TimeSpan.Zero, outbox.OldestAge());

        await outbox.AppendAsync([Message("a"), Message("b")], CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await outbox.AppendAsync([Message("c")], CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(8), outbox.OldestAge());

        var stored = outbox.ReadAfter(0, 10);
        await outbox.AcknowledgeAsync([stored[0].Sequence, stored[1].Sequence], CancellationToken.None);
        // An append after the acknowledgement is a barrier: the writer applies requests in order.
        await outbox.AppendAsync([Message("d")], CancellationToken.None);
        Assert.Equal(TimeSpan.FromSeconds(3), outbox.OldestAge());

        await outbox.AcknowledgeAsync([.. outbox.ReadAfter(0, 10).Select(s => s.Sequence)], CancellationToken.None);
        await outbox.AppendAsync([], CancellationToken.None);
        Assert.Equal(TimeSpan.Zero, outbox.OldestAge());
    }

    [Fact]
    public async Task Outputs_stored_by_an_earlier_run_count_from_this_runs_start()
    {
        await using (var first = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, _time))
        {
            await first.AppendAsync([Message("a")], CancellationToken.None);
        }
        _time.Advance(TimeSpan.FromHours(1));
        await using var second = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, _time);
        _time.Advance(TimeSpan.FromSeconds(7));

        Assert.Equal(TimeSpan.FromSeconds(7), second.OldestAge());
    }

    private static UpstreamMessage Message(string topic) =>
        new(topic, [0x7B, 0x7D], "application/json", "diagnostics", "legitimate-interest", "device", "p@1", "P1D", 86400);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
