using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>
/// The data subject's rights reach outputs the drainer already read for sending (notice 9.4, 9.6-9.8): a recall that
/// begins before an output's publish starts keeps it from the upstream, even though it sits in the drainer's batch.
/// Real SQLite files; the recall on its own connection, as the registry makes it.
/// </summary>
public sealed class DrainerRecallTests : IDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-recall-").FullName;

    [Fact]
    public async Task Outputs_read_into_the_drainers_batch_and_then_erased_are_not_sent()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        // Two outputs fill the window (their PUBACKs held back); the next two, of the erased device, wait in the batch.
        await outbox.AppendAsync(
            [Message("first/1", "OTHERDEVICE00001"), Message("first/2", "OTHERDEVICE00001"), Message("erased/1", "ERASEDDEVICE0001"),
             Message("erased/2", "ERASEDDEVICE0001"), Message("after/1", "OTHERDEVICE00001")],
            CancellationToken.None);
        var upstream = new HeldUpstream(window: 2);
        var drainer = new OutboxDrainer(outbox, upstream, NullLogger.Instance, DrainerSettings.Default);
        var waiting = new OutboxWaitingOutputs(_directory, outbox.MaintainAsync, outbox.BeginRecallAsync);

        using var stopping = new CancellationTokenSource();
        var draining = drainer.RunAsync(TimeSpan.FromSeconds(1), stopping.Token);
        await WaitUntilAsync(() => upstream.Published.Count == 2);
        // The drainer reads its next batch as soon as the first publishes are under way (microseconds), then waits for
        // the window. Drainer.Recalled below shows the erased outputs were indeed in that batch: had the erasure come
        // first, they would never have been read, and not counted as recalled.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, upstream.Published.Count);

        var (erased, _) = await waiting.EraseAsync("ERASEDDEVICE0001", CancellationToken.None);
        upstream.Release();

        await WaitUntilAsync(() => outbox.Count == 0);
        Assert.Equal(2, erased);
        Assert.Equal(["first/1", "first/2", "after/1"], upstream.Published);
        Assert.Equal(2, drainer.Recalled);

        await stopping.CancelAsync();
        await draining.WaitAsync(s_bound);
    }

    [Fact]
    public async Task Without_a_recall_the_batch_is_sent_without_a_second_look()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([Message("a/1", "DEVICE0000000001"), Message("a/2", "DEVICE0000000001"), Message("a/3", "DEVICE0000000001")], CancellationToken.None);
        var upstream = new HeldUpstream(window: 2);
        var drainer = new OutboxDrainer(outbox, upstream, NullLogger.Instance, DrainerSettings.Default);

        using var stopping = new CancellationTokenSource();
        var draining = drainer.RunAsync(TimeSpan.FromSeconds(1), stopping.Token);
        await WaitUntilAsync(() => upstream.Published.Count == 2);
        upstream.Release();

        await WaitUntilAsync(() => outbox.Count == 0);
        Assert.Equal(["a/1", "a/2", "a/3"], upstream.Published);
        Assert.Equal(0, drainer.Recalled);
        Assert.Equal(0, outbox.Recalls);

        await stopping.CancelAsync();
        await draining.WaitAsync(s_bound);
    }

    private static UpstreamMessage Message(string topic, string device) =>
        new(topic, [0x7B, 0x7D], "application/json", "diagnostics", "legitimate-interest", "device", "p@1", "P1D", 86400, "status", device);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not reached within the bound");
            await Task.Delay(10);
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>An upstream whose PUBACKs are held back until <see cref="Release"/>, so the drainer's window stays full.</summary>
    private sealed class HeldUpstream(int window) : IUpstream
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentQueue<string> _published = new();

        public IReadOnlyList<string> Published => [.. _published];
        public int Window => window;
        public bool IsConnected => true;

        public void Release() => _released.TrySetResult();

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken)
        {
            _published.Enqueue(message.Topic);
            await _released.Task.WaitAsync(cancellationToken);
            return PublishResult.Acknowledged;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
