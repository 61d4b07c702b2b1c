using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Outbox;

/// <summary>The outbox on real SQLite files in a temporary data directory.</summary>
public sealed class SqliteOutboxTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-outbox-").FullName;

    [Fact]
    public async Task Stored_outputs_come_back_in_insertion_order()
    {
        await using var outbox = Open(new OutboxOptions());
        await outbox.AppendAsync([Message("a/1"), Message("a/2")], CancellationToken.None);
        await outbox.AppendAsync([Message("a/3")], CancellationToken.None);

        var stored = outbox.ReadAfter(0, 10);
        Assert.Equal(["a/1", "a/2", "a/3"], stored.Select(s => s.Message.Topic));
        Assert.Equal(["a/3"], outbox.ReadAfter(stored[1].Sequence, 10).Select(s => s.Message.Topic));
    }

    [Fact]
    public async Task Stored_outputs_survive_reopening_with_all_their_tags()
    {
        var original = Message("dt/x") with { Payload = [1, 2, 3], ExpirySeconds = 42 };
        await using (var outbox = Open(new OutboxOptions()))
        {
            await outbox.AppendAsync([original], CancellationToken.None);
        }
        await using var reopened = Open(new OutboxOptions());
        var stored = Assert.Single(reopened.ReadAfter(0, 10));
        Assert.Equal(original.Topic, stored.Message.Topic);
        Assert.Equal(original.Payload, stored.Message.Payload);
        Assert.Equal(original with { Payload = stored.Message.Payload }, stored.Message);
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public async Task Acknowledged_outputs_are_removed()
    {
        await using var outbox = Open(new OutboxOptions());
        await outbox.AppendAsync([Message("a"), Message("b")], CancellationToken.None);
        var stored = outbox.ReadAfter(0, 10);

        await outbox.AcknowledgeAsync([stored[0].Sequence], CancellationToken.None);
        // Acknowledgements are applied by the writer in order with appends; an append after it is a barrier.
        await outbox.AppendAsync([Message("c")], CancellationToken.None);

        Assert.Equal(["b", "c"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
        Assert.Equal(2, outbox.Count);
    }

    [Fact]
    public async Task Past_the_message_limit_the_oldest_outputs_are_dropped_and_counted()
    {
        await using var outbox = Open(new OutboxOptions { MaxMessages = 3 });
        for (var i = 0; i < 5; i++)
        {
            await outbox.AppendAsync([Message($"m/{i}")], CancellationToken.None);
        }

        Assert.Equal(["m/2", "m/3", "m/4"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
        Assert.Equal(3, outbox.Count);
        Assert.Equal(2, outbox.Dropped);
    }

    [Fact]
    public async Task Past_the_byte_limit_the_oldest_outputs_are_dropped()
    {
        await using var outbox = Open(new OutboxOptions { MaxBytes = 2300 });
        for (var i = 0; i < 4; i++)
        {
            await outbox.AppendAsync([Message($"m/{i}") with { Payload = new byte[1000] }], CancellationToken.None);
        }

        Assert.Equal(["m/2", "m/3"], outbox.ReadAfter(0, 10).Select(s => s.Message.Topic));
    }

    [Fact]
    public async Task Many_concurrent_appends_are_all_committed()
    {
        await using var outbox = Open(new OutboxOptions { MaxBatch = 16 });
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => outbox.AppendAsync([Message($"c/{i}")], CancellationToken.None)));

        Assert.Equal(200, outbox.Count);
        Assert.Equal(200, outbox.ReadAfter(0, 1000).Select(s => s.Message.Topic).Distinct().Count());
    }

    private SqliteOutbox Open(OutboxOptions options) => SqliteOutbox.Open(_directory, options, NullLogger.Instance);

    private static UpstreamMessage Message(string topic) =>
        new(topic, [0x7B, 0x7D], "application/json", "diagnostics", "legitimate-interest", "device", "p@1", "P1D", 86400);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
