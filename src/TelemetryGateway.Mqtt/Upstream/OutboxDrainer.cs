using Microsoft.Extensions.Logging;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Moves stored outputs from the outbox to the upstream, oldest first, keeping a window of publishes in flight rather
/// than awaiting one at a time. An output leaves the outbox only after the upstream acknowledged it; after a failure
/// the drainer resumes from the oldest unacknowledged output, so delivery is at least once and in order per device.
/// </summary>
internal sealed partial class OutboxDrainer(SqliteOutbox outbox, IUpstream upstream, ILogger logger)
{
    private static readonly TimeSpan s_idleWait = TimeSpan.FromMilliseconds(250);
    private readonly List<long> _acknowledged = [];
    private readonly Lock _acknowledgedLock = new();
    private long _lowestFailed = long.MaxValue;
    private long _delivered;

    /// <summary>Outputs acknowledged by the upstream since start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Runs until <paramref name="stopping"/>; then, for up to <paramref name="flushTimeout"/>, keeps delivering what is stored.</summary>
    public async Task RunAsync(TimeSpan flushTimeout, CancellationToken stopping)
    {
        using var flush = new CancellationTokenSource();
        await using (stopping.Register(() => flush.CancelAfter(flushTimeout)))
        {
            while (true)
            {
                try
                {
                    await DrainAsync(stopping, flush.Token);
                    return;
                }
                catch (Exception e) when (!flush.IsCancellationRequested)
                {
                    // The drainer must outlive any single failure: what is stored stays stored, and it starts over.
                    LogDrainFailed(logger, e.GetType().Name);
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                }
            }
        }
    }

    private async Task DrainAsync(CancellationToken stopping, CancellationToken hardStop)
    {
        Interlocked.Exchange(ref _lowestFailed, long.MaxValue);
        long after = 0;
        SemaphoreSlim? window = null;
        var capacity = 0;
        try
        {
            while (!hardStop.IsCancellationRequested)
            {
                if (!upstream.IsConnected)
                {
                    if (window is not null)
                    {
                        after = await SettleAsync(window, capacity, after, hardStop);
                    }
                    if (stopping.IsCancellationRequested)
                    {
                        // Stopping with no upstream: what is stored stays in the outbox for the next start.
                        break;
                    }
                    try
                    {
                        await upstream.ConnectAsync(stopping);
                    }
                    catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                    {
                        break;
                    }
                }
                if (window is null || capacity != upstream.Window)
                {
                    if (window is not null)
                    {
                        after = await SettleAsync(window, capacity, after, hardStop);
                    }
                    capacity = upstream.Window;
                    window = new SemaphoreSlim(capacity, capacity);
                }
                await FlushAcknowledgementsAsync(hardStop);
                var batch = outbox.ReadAfter(after, capacity);
                if (batch.Count == 0)
                {
                    if (stopping.IsCancellationRequested && window.CurrentCount == capacity)
                    {
                        break;
                    }
                    await outbox.WaitForDataAsync(s_idleWait, hardStop);
                    continue;
                }
                foreach (var stored in batch)
                {
                    await window.WaitAsync(hardStop);
                    if (Interlocked.Read(ref _lowestFailed) != long.MaxValue)
                    {
                        window.Release();
                        break;
                    }
                    after = stored.Sequence;
                    _ = PublishOneAsync(stored, window, hardStop);
                }
                if (Interlocked.Read(ref _lowestFailed) != long.MaxValue)
                {
                    after = await SettleAsync(window, capacity, after, hardStop);
                }
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
            // Flush timeout: whatever is unacknowledged stays stored and goes out after the next start.
        }
        finally
        {
            // The window is not disposed: publishes still in flight at a hard stop release it when they complete.
            await FlushAcknowledgementsAsync(CancellationToken.None);
        }
    }

    /// <summary>Waits for every in-flight publish, then returns where reading must resume (before the oldest failure).</summary>
    private async Task<long> SettleAsync(SemaphoreSlim window, int capacity, long after, CancellationToken cancellationToken)
    {
        for (var i = 0; i < capacity; i++)
        {
            await window.WaitAsync(cancellationToken);
        }
        window.Release(capacity);
        var failed = Interlocked.Exchange(ref _lowestFailed, long.MaxValue);
        await FlushAcknowledgementsAsync(cancellationToken);
        if (failed == long.MaxValue)
        {
            return after;
        }
        LogRedelivery(logger, failed);
        return failed - 1;
    }

    private async Task PublishOneAsync(StoredMessage stored, SemaphoreSlim window, CancellationToken cancellationToken)
    {
        bool acknowledged;
        try
        {
            acknowledged = await upstream.PublishAsync(stored.Message, cancellationToken);
        }
        catch (Exception)
        {
            acknowledged = false;
        }
        if (acknowledged)
        {
            Interlocked.Increment(ref _delivered);
            lock (_acknowledgedLock)
            {
                _acknowledged.Add(stored.Sequence);
            }
        }
        else
        {
            long current;
            while ((current = Interlocked.Read(ref _lowestFailed)) > stored.Sequence
                && Interlocked.CompareExchange(ref _lowestFailed, stored.Sequence, current) != current)
            {
            }
        }
        window.Release();
    }

    private async Task FlushAcknowledgementsAsync(CancellationToken cancellationToken)
    {
        long[] sequences;
        lock (_acknowledgedLock)
        {
            if (_acknowledged.Count == 0)
            {
                return;
            }
            sequences = [.. _acknowledged];
            _acknowledged.Clear();
        }
        await outbox.AcknowledgeAsync(sequences, cancellationToken);
    }

    [LoggerMessage(EventId = 212, Level = LogLevel.Error, Message = "Outbox drainer failed ({Error}); starting over from the oldest stored output")]
    private static partial void LogDrainFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Upstream publish failed; resending from outbox position {Sequence}")]
    private static partial void LogRedelivery(ILogger logger, long sequence);
}
