using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Outbox;

/// <summary>The supervised writer: a failure costs only its batch, a full disk heals by itself, nothing waits forever.</summary>
public sealed class OutboxSupervisionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-supervised-").FullName;

    [Fact]
    public async Task An_exception_while_writing_fails_only_that_batch_and_the_writer_goes_on()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        // A topic longer than a record can hold makes the encoder throw inside the writer.
        var unencodable = Message("t/" + new string('x', 70_000));

        await Assert.ThrowsAsync<OutboxUnavailableException>(() => outbox.AppendAsync([unencodable], CancellationToken.None));
        await outbox.AppendAsync([Message("t/after")], CancellationToken.None);

        Assert.Equal(["t/after"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
        Assert.Equal(1, outbox.FailedBatches);
    }

    [Fact]
    public async Task A_full_disk_refuses_appends_and_storing_resumes_by_itself_when_space_returns()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions { MaxFileBytes = 256 * 1024 }, NullLogger.Instance);
        var payload = new byte[8 * 1024];
        var stored = 0;
        OutboxUnavailableException? refused = null;
        for (var i = 0; i < 200 && refused is null; i++)
        {
            try
            {
                await outbox.AppendAsync([Message($"t/{i}") with { Payload = payload }], CancellationToken.None);
                stored++;
            }
            catch (OutboxUnavailableException e)
            {
                refused = e;
            }
        }
        Assert.NotNull(refused);
        Assert.True(stored > 5, $"only {stored} outputs fit before the disk was full");

        // Acknowledgements still go through on a full disk, and the space they free is used again.
        var all = outbox.ReadAfter(0, 1000);
        await outbox.AcknowledgeAsync([.. all.Take(10).Select(s => s.Sequence)], CancellationToken.None);
        await outbox.AppendAsync([Message("t/after") with { Payload = payload }], CancellationToken.None);

        Assert.Equal(stored - 10 + 1, outbox.Count);
        Assert.Equal("t/after", outbox.ReadAfter(0, 1000)[^1].Message.Topic);
    }

    [Fact]
    public async Task A_store_that_takes_longer_than_the_store_timeout_is_refused_instead_of_waiting()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions { StoreTimeout = TimeSpan.FromMilliseconds(300) }, NullLogger.Instance);
        // Another connection holds the write lock, so the writer's commit waits on it.
        using var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, SqliteOutbox.FileName)};Pooling=False");
        blocker.Open();
        using var exclusive = blocker.BeginTransaction(System.Data.IsolationLevel.Serializable);
        using (var write = blocker.CreateCommand())
        {
            write.Transaction = exclusive;
            write.CommandText = "INSERT INTO dead_letters (time, reason, stream, purpose, size) VALUES (0, 'x', 'x', 'x', 0);";
            write.ExecuteNonQuery();
        }
        var started = DateTime.UtcNow;

        await Assert.ThrowsAsync<OutboxUnavailableException>(() => outbox.AppendAsync([Message("t/blocked")], CancellationToken.None));

        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(4));
        exclusive.Rollback();
        await outbox.AppendAsync([Message("t/after")], CancellationToken.None);
        Assert.Contains("t/after", outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
    }

    [Fact]
    public async Task Maintenance_drops_outputs_past_their_retention_and_counts_them()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance, time);
        await outbox.AppendAsync([Message("t/minute") with { ExpirySeconds = 60 }, Message("t/forever")], CancellationToken.None);

        time.Advance(TimeSpan.FromMinutes(5));
        await outbox.MaintainAsync(CancellationToken.None);

        Assert.Equal(["t/forever"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
        Assert.Equal((1L, 1L), (outbox.Count, outbox.Expired));
    }

    [Fact]
    public async Task A_dead_letter_keeps_its_payload_for_the_retention_period_then_only_its_metadata()
    {
        var time = new ManualTime(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions { DeadLetterRetention = TimeSpan.FromDays(1) }, NullLogger.Instance, time);
        await outbox.DeadLetterAsync([new DeadLetter(null, Message("t/denied"), "not-authorized")], CancellationToken.None);
        Assert.True(Assert.Single(DeadLetterArchive.List(_directory)).PayloadKept);

        time.Advance(TimeSpan.FromDays(2));
        await outbox.MaintainAsync(CancellationToken.None);

        var entry = Assert.Single(DeadLetterArchive.List(_directory));
        Assert.False(entry.PayloadKept);
        Assert.Equal(("not-authorized", 3L), (entry.Reason, entry.Size));
        Assert.Equal(0, DeadLetterArchive.Replay(_directory, entry.Id));
    }

    [Fact]
    public async Task A_replayed_dead_letter_goes_back_into_the_outbox_behind_what_waits_there()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("t/waiting")], CancellationToken.None);
        var rejected = outbox.ReadAfter(0, 10);
        await outbox.AppendAsync([Message("t/rejected")], CancellationToken.None);
        var sequence = outbox.ReadAfter(rejected[0].Sequence, 10)[0].Sequence;
        await outbox.DeadLetterAsync([new DeadLetter(sequence, Message("t/rejected"), "not-authorized")], CancellationToken.None);
        Assert.Equal(["t/waiting"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));

        Assert.Equal(1, DeadLetterArchive.Replay(_directory, id: null));
        await outbox.MaintainAsync(CancellationToken.None);

        Assert.Equal(["t/waiting", "t/rejected"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
        Assert.Equal(2, outbox.Count);
        Assert.Empty(DeadLetterArchive.List(_directory));
    }

    [Fact]
    public async Task An_outbox_of_format_1_is_upgraded_in_place_and_its_outputs_kept()
    {
        var path = Path.Combine(_directory, SqliteOutbox.FileName);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, record BLOB NOT NULL); PRAGMA user_version=1;";
            command.ExecuteNonQuery();
            command.CommandText = "INSERT INTO outbox (record) VALUES ($record);";
            command.Parameters.AddWithValue("$record", VersionOneRecord("t/old"));
            command.ExecuteNonQuery();
        }

        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);

        var stored = Assert.Single(outbox.ReadAfter(0, 10));
        Assert.Equal(("t/old", "", (DateTimeOffset?)null), (stored.Message.Topic, stored.Message.Stream, stored.ExpiresAt));
    }

    /// <summary>A record as format 1 wrote it: no stream.</summary>
    private static byte[] VersionOneRecord(string topic)
    {
        var buffer = new List<byte> { 1, 0, 0, 0, 0 };
        foreach (var text in new[] { topic, "application/json", "p", "b", "c", "x@1", "P1D" })
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            buffer.AddRange(BitConverter.GetBytes((ushort)bytes.Length));
            buffer.AddRange(bytes);
        }
        buffer.AddRange(BitConverter.GetBytes(3u));
        buffer.AddRange(new byte[] { 1, 2, 3 });
        return [.. buffer];
    }

    private static UpstreamMessage Message(string topic) =>
        new(topic, [1, 2, 3], "application/json", "product-improvement", "legitimate-interest", "device", "x@1", "P1D", 0, "status");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
