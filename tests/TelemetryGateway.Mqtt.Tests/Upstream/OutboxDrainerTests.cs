using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>The drainer against an upstream that drops its connection now and then: everything arrives, in order.</summary>
public sealed class OutboxDrainerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-drainer-").FullName;

    [Fact]
    public async Task Delivers_everything_at_least_once_and_in_order_through_connection_losses()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        for (var i = 0; i < 300; i++)
        {
            await outbox.AppendAsync([new UpstreamMessage($"t/{i}", [], "application/json", "p", "b", "c", "x@1", "P1D", 0)], CancellationToken.None);
        }
        var upstream = new FlakyUpstream(failEvery: 37);
        var drainer = new OutboxDrainer(outbox, upstream, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = drainer.RunAsync(TimeSpan.FromSeconds(5), stop.Token);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (upstream.Acknowledged.Distinct().Count() < 300 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        await stop.CancelAsync();
        await running;

        var firstDeliveries = upstream.Acknowledged.Select(t => int.Parse(t[2..], System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
        Assert.Equal(Enumerable.Range(0, 300), firstDeliveries);
        Assert.True(upstream.Failures > 0);
        Assert.True(await WaitForAsync(() => outbox.Count == 0));
    }

    [Fact]
    public async Task Stopping_without_an_upstream_leaves_everything_stored()
    {
        await using var outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        await outbox.AppendAsync([new UpstreamMessage("t/0", [], "application/json", "p", "b", "c", "x@1", "P1D", 0)], CancellationToken.None);
        var upstream = new FlakyUpstream(failEvery: 0) { Reachable = false };
        var drainer = new OutboxDrainer(outbox, upstream, NullLogger.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await drainer.RunAsync(TimeSpan.FromMilliseconds(200), stop.Token);

        Assert.Equal(1, outbox.Count);
        Assert.Empty(upstream.Acknowledged);
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(20);
        }
        return condition();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>An upstream whose connection breaks on every n-th publish, failing the publishes in flight.</summary>
    private sealed class FlakyUpstream(int failEvery) : IUpstream
    {
        private int _published;
        private volatile bool _connected;

        public ConcurrentQueue<string> Acknowledged { get; } = new();
        public int Failures;
        public bool Reachable { get; init; } = true;
        public int Window => 8;
        public bool IsConnected => _connected;

        public async Task ConnectAsync(CancellationToken cancellationToken)
        {
            while (!Reachable)
            {
                await Task.Delay(20, cancellationToken);
            }
            _connected = true;
        }

        public async Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken)
        {
            // Like an MQTT client, the message goes on the wire in call order; the acknowledgement comes later.
            bool acknowledged;
            lock (Acknowledged)
            {
                acknowledged = _connected && !(failEvery > 0 && ++_published % failEvery == 0);
                if (acknowledged)
                {
                    Acknowledged.Enqueue(message.Topic);
                }
                else if (_connected)
                {
                    _connected = false;
                    Interlocked.Increment(ref Failures);
                }
            }
            await Task.Yield();
            return acknowledged ? PublishResult.Acknowledged : PublishResult.ConnectionLost;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
