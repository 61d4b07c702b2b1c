using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>
/// Residency in delivery (notice §7): outputs carry their destination region into the outbox, each region's drainer reads
/// only its own, and an upstream that is down holds back no other region. Real SQLite files in a temporary directory.
/// </summary>
public sealed class RegionalDeliveryTests : IDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-regions-").FullName;

    [Fact]
    public async Task The_outbox_keeps_each_outputs_destination_and_counts_per_destination()
    {
        await using (var outbox = Open())
        {
            await outbox.AppendAsync([Message("e/1", "eea"), Message("u/1", "us"), Message("e/2", "eea")], CancellationToken.None);

            Assert.Equal(["e/1", "e/2"], outbox.ReadAfter("eea", 0, 10).Select(s => s.Message.Topic));
            Assert.Equal(["u/1"], outbox.ReadAfter("us", 0, 10).Select(s => s.Message.Topic));
            Assert.Empty(outbox.ReadAfter("uk", 0, 10));
            Assert.Equal((2, 1, 3), (outbox.CountFor("eea"), outbox.CountFor("us"), outbox.Count));
            var us = Assert.Single(outbox.ReadAfter("us", 0, 10));
            Assert.Equal(("us", "scc"), (us.Message.Region, us.Message.Safeguard));

            await outbox.AcknowledgeAsync([outbox.ReadAfter("eea", 0, 1)[0].Sequence], CancellationToken.None);
            await outbox.MaintainAsync(CancellationToken.None);
            Assert.Equal((1, 1, 2), (outbox.CountFor("eea"), outbox.CountFor("us"), outbox.Count));
        }
        // Counted again per destination when reopened.
        await using var reopened = Open();
        Assert.Equal((1, 1), (reopened.CountFor("eea"), reopened.CountFor("us")));
    }

    [Fact]
    public async Task An_outbox_of_format_3_is_upgraded_and_its_outputs_go_to_the_site_regions_upstream()
    {
        await using (var outbox = Open())
        {
            await outbox.AppendAsync([Message("old/1", ""), Message("old/2", "")], CancellationToken.None);
        }
        // Back to format 3's layout: no destination column.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteOutbox.FileName)};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                DROP INDEX outbox_destination;
                ALTER TABLE outbox DROP COLUMN destination;
                ALTER TABLE dead_letters DROP COLUMN destination;
                PRAGMA user_version=3;
                """;
            command.ExecuteNonQuery();
        }

        await using var upgraded = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, earlierDestination: "uk");

        Assert.Equal(["old/1", "old/2"], upgraded.ReadAfter("uk", 0, 10).Select(s => s.Message.Topic));
        Assert.Equal(2, upgraded.CountFor("uk"));
        Assert.Equal(0, upgraded.CountFor(""));
    }

    [Fact]
    public async Task An_upstream_that_is_down_holds_back_only_its_own_region()
    {
        await using var outbox = Open();
        var eea = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        await using var us = new UnreachableUpstream();
        var destinations = Destinations(outbox, ("eea", eea), ("us", us));

        // Delivered as a device's messages are: eea straight upstream once its drainer connected it, us into the outbox.
        using var stopping = new CancellationTokenSource();
        var draining = Task.WhenAll(destinations.All.Select(d => d.Drainer.RunAsync(TimeSpan.FromSeconds(1), stopping.Token)));
        for (var i = 0; i < 20; i++)
        {
            await destinations.DeliverAsync([Message($"e/{i}", "eea"), Message($"u/{i}", "us")], CancellationToken.None);
        }

        await WaitUntilAsync(() => eea.Acknowledged.Count == 20 && outbox.CountFor("eea") == 0);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"e/{i}"), eea.Acknowledged);
        Assert.Equal(20, outbox.CountFor("us"));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"u/{i}"), outbox.ReadAfter("us", 0, 100).Select(s => s.Message.Topic));
        Assert.All(eea.AcknowledgedMessages, m => Assert.Equal("eea", m.Region));

        await stopping.CancelAsync();
        await draining.WaitAsync(s_bound);
    }

    [Fact]
    public async Task Stored_outputs_of_one_region_drain_while_another_regions_upstream_is_down()
    {
        await using var outbox = Open();
        // Both regions have outputs waiting from before (an outage of both), then only eea comes back.
        await outbox.AppendAsync([.. Enumerable.Range(0, 50).SelectMany(i => new[] { Message($"e/{i}", "eea"), Message($"u/{i}", "us") })], CancellationToken.None);
        var eea = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge, window: 4);
        await using var us = new UnreachableUpstream();
        var destinations = Destinations(outbox, ("eea", eea), ("us", us));

        using var stopping = new CancellationTokenSource();
        var draining = Task.WhenAll(destinations.All.Select(d => d.Drainer.RunAsync(TimeSpan.FromSeconds(1), stopping.Token)));

        await WaitUntilAsync(() => outbox.CountFor("eea") == 0);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"e/{i}"), eea.Acknowledged);
        Assert.Equal(50, outbox.CountFor("us"));
        Assert.DoesNotContain(eea.Published, topic => topic.StartsWith("u/", StringComparison.Ordinal));

        await stopping.CancelAsync();
        await draining.WaitAsync(s_bound);
    }

    private static Destinations Destinations(SqliteOutbox outbox, params (string Region, IUpstream Upstream)[] upstreams) => new(
        "eea",
        [.. upstreams.Select(u => new Destination(
            new UpstreamRoute(u.Region, u.Region, new UpstreamOptions { Url = "mqtt://127.0.0.1:1" }),
            u.Upstream,
            new UpstreamDelivery(u.Upstream, outbox, NullLogger<UpstreamDelivery>.Instance, u.Region),
            new OutboxDrainer(outbox, u.Upstream, NullLogger.Instance, DrainerSettings.Default, u.Region)))]);

    private SqliteOutbox Open() => SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);

    private static UpstreamMessage Message(string topic, string region) =>
        new(topic, [0x7B, 0x7D], "application/json", "diagnostics", "legitimate-interest", "device", "p@1", "P1D", 86400, "status", "",
            Region: region, Safeguard: region is "" or "eea" ? "none" : "scc");

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not reached within the bound");
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>An upstream that cannot be reached: connecting waits until cancelled, as against a broker that is down.</summary>
    private sealed class UnreachableUpstream : IUpstream
    {
        public int Window => 8;
        public bool IsConnected => false;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);

        public Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken) => Task.FromResult(PublishResult.ConnectionLost);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
