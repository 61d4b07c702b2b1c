using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>The drainer's three outcomes, and retention: nothing wedges the outputs behind a bad one.</summary>
public sealed class DrainerOutcomeTests : IDisposable
{
    private static readonly DrainerSettings s_fastBackoff = new(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(40), TimeProvider.System);
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-outcomes-").FullName;

    [Fact]
    public async Task A_rejected_output_becomes_a_dead_letter_and_the_outputs_behind_it_are_delivered()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("t/0", "status"), Message("t/denied", "network"), Message("t/2", "status")], CancellationToken.None);
        var upstream = new ScriptedUpstream((message, _) => message.Topic == "t/denied" ? ScriptedAnswer.Reject : ScriptedAnswer.Acknowledge);

        var drainer = await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0);

        Assert.Equal(["t/0", "t/2"], upstream.Acknowledged);
        Assert.Equal(1, upstream.Attempts("t/denied"));
        Assert.Equal(1, drainer.Rejected);
        var deadLetter = Assert.Single(DeadLetterArchive.List(_directory));
        Assert.Equal(("not-authorized", "network", "diagnostics", 3L, true), (deadLetter.Reason, deadLetter.Stream, deadLetter.Purpose, deadLetter.Size, deadLetter.PayloadKept));
    }

    [Fact]
    public async Task An_output_the_upstream_closes_the_connection_on_three_times_in_a_row_is_rejected()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("t/0"), Message("t/poison"), Message("t/2"), Message("t/3")], CancellationToken.None);
        var upstream = new ScriptedUpstream((message, _) => message.Topic == "t/poison" ? ScriptedAnswer.CloseConnection : ScriptedAnswer.Acknowledge);

        var drainer = await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0);

        Assert.Equal(OutboxDrainer.ConnectionClosedStrikes, upstream.Attempts("t/poison"));
        Assert.Equal(["t/0", "t/2", "t/3"], upstream.Acknowledged.Distinct());
        Assert.Equal(1, drainer.Rejected);
        Assert.Equal("connection-closed", Assert.Single(DeadLetterArchive.List(_directory)).Reason);
    }

    [Fact]
    public async Task A_connection_lost_once_on_an_output_is_not_held_against_it()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("t/0"), Message("t/unlucky"), Message("t/2")], CancellationToken.None);
        var upstream = new ScriptedUpstream((message, attempt) => message.Topic == "t/unlucky" && attempt == 1 ? ScriptedAnswer.CloseConnection : ScriptedAnswer.Acknowledge);

        var drainer = await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0);

        Assert.Equal(["t/0", "t/unlucky", "t/2"], upstream.Acknowledged.Distinct());
        Assert.Equal(0, drainer.Rejected);
        Assert.Empty(DeadLetterArchive.List(_directory));
    }

    [Fact]
    public async Task Transient_refusals_while_connected_are_retried_with_backoff_until_acknowledged()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("t/busy"), Message("t/1")], CancellationToken.None);
        var upstream = new ScriptedUpstream((message, attempt) => message.Topic == "t/busy" && attempt <= 3 ? ScriptedAnswer.Busy : ScriptedAnswer.Acknowledge);

        var drainer = await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0);

        Assert.Equal(4, upstream.Attempts("t/busy"));
        Assert.Single(upstream.Acknowledged, "t/busy");
        Assert.Equal(1, upstream.Connects);
        Assert.Equal(0, drainer.Rejected);
    }

    [Fact]
    public async Task An_output_past_its_retention_is_dropped_and_counted_never_sent()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, time);
        await outbox.AppendAsync([Message("t/short") with { ExpirySeconds = 60 }, Message("t/long") with { ExpirySeconds = 3600 }], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2));
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);

        var drainer = await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0, time);

        Assert.Equal(["t/long"], upstream.Published);
        Assert.Equal(1, drainer.Expired);
        Assert.True(await WaitForAsync(() => outbox.Expired == 1));
    }

    [Fact]
    public async Task A_sent_output_carries_what_is_left_of_its_retention_as_expiry()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, time);
        await outbox.AppendAsync([Message("t/0") with { ExpirySeconds = 3600 }], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(10));
        uint? expiry = null;
        var upstream = new ScriptedUpstream((message, _) =>
        {
            expiry = message.ExpirySeconds;
            return ScriptedAnswer.Acknowledge;
        });

        await DrainUntilAsync(outbox, upstream, () => outbox.Count == 0, time);

        Assert.Equal(3000u, expiry);
    }

    private static async Task<OutboxDrainer> DrainUntilAsync(SqliteOutbox outbox, IUpstream upstream, Func<bool> done, TimeProvider? time = null)
    {
        var drainer = new OutboxDrainer(outbox, upstream, NullLogger.Instance, s_fastBackoff with { Time = time ?? TimeProvider.System });
        using var stop = new CancellationTokenSource();
        var running = drainer.RunAsync(TimeSpan.FromSeconds(2), stop.Token);
        var finished = await WaitForAsync(done);
        await stop.CancelAsync();
        await running;
        Assert.True(finished, $"not drained: {outbox.Count} outputs still stored; published {string.Join(",", (upstream as ScriptedUpstream)?.Published ?? [])}");
        return drainer;
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(20);
        }
        return condition();
    }

    private static UpstreamMessage Message(string topic, string stream = "status") =>
        new(topic, [1, 2, 3], "application/json", stream == "network" ? "diagnostics" : "product-improvement", "legitimate-interest", "device", "x@1", "P1D", 0, stream);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
