using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Moves stored outputs from the outbox to the upstream, oldest first, keeping a window of publishes in flight rather
/// than awaiting one at a time. An output leaves the outbox only after the upstream acknowledged it, rejected it (it
/// becomes a dead letter, and the outputs behind it go on), or its retention ended (dropped, never sent late). After a
/// transient failure the drainer resumes from the oldest unacknowledged output, so delivery is at least once and in
/// order per device; while connected it backs off with jitter first. After the connection is lost, the oldest
/// unacknowledged output is sent alone; an output on which the upstream closes the connection three times in a row is
/// rejected (<c>connection-closed</c>). One drainer per destination (the region of its upstream) reads only the outputs
/// stored for it, so an upstream that is down holds back no other.
/// </summary>
internal sealed partial class OutboxDrainer(SqliteOutbox outbox, IUpstream upstream, ILogger logger, DrainerSettings? settings = null, string destination = "")
{
    /// <summary>Connection losses on the same output, alone on the wire, after which it is rejected.</summary>
    public const int ConnectionClosedStrikes = 3;

    private static readonly TimeSpan s_idleWait = TimeSpan.FromMilliseconds(250);
    private readonly DrainerSettings _settings = settings ?? DrainerSettings.Default;
    private readonly List<long> _acknowledged = [];
    private readonly List<long> _expired = [];
    private readonly Lock _acknowledgedLock = new();
    private long _lowestFailed = long.MaxValue;
    private long _rejected;
    private long _expiredCount;
    private long _recalled;
    // The output suspected of making the upstream close the connection, and how often it did in a row.
    private long _suspect = -1;
    private int _strikes;
    private bool _probing;
    private TimeSpan _backoff;
    // Set by a publish that settled the suspect (acknowledged or rejected), or any acknowledgement: read at the next settle.
    private volatile bool _suspectSettled;
    private volatile bool _anyAcknowledged;

    /// <summary>Outputs acknowledged by the upstream since start.</summary>
    public long Delivered => FromOutbox.Total;

    /// <summary>Outputs acknowledged upstream from the outbox.</summary>
    public DeliveredOutputs FromOutbox { get; } = new();

    /// <summary>Outputs the upstream rejected since start (now dead letters).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Outputs already read for sending that a recall removed before their turn (not sent).</summary>
    public long Recalled => Interlocked.Read(ref _recalled);

    /// <summary>Outputs found past their retention when their turn came (dropped, not sent).</summary>
    public long Expired => Interlocked.Read(ref _expiredCount);

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
                    await Task.Delay(TimeSpan.FromSeconds(1), _settings.Time, CancellationToken.None);
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
                // Read before the batch: a recall begun after it (the data subject's rights) has each output checked again.
                var recalls = outbox.Recalls;
                var batch = outbox.ReadAfter(destination, after, _probing ? 1 : capacity);
                if (batch.Count == 0 && Interlocked.Read(ref _lowestFailed) != long.MaxValue)
                {
                    // A publish failed after everything stored was sent: go back for it.
                    after = await SettleAsync(window, capacity, after, hardStop);
                    continue;
                }
                if (batch.Count == 0)
                {
                    if (stopping.IsCancellationRequested && window.CurrentCount == capacity)
                    {
                        break;
                    }
                    await outbox.WaitForDataAsync(destination, s_idleWait, hardStop);
                    continue;
                }
                var now = _settings.Time.GetUtcNow();
                foreach (var stored in batch)
                {
                    if (stored.IsExpired(now))
                    {
                        // Past its retention: never sent late. Counted as done, so the outputs behind it go on.
                        after = stored.Sequence;
                        _suspectSettled |= stored.Sequence == _suspect;
                        Interlocked.Increment(ref _expiredCount);
                        lock (_acknowledgedLock)
                        {
                            _expired.Add(stored.Sequence);
                        }
                        continue;
                    }
                    await window.WaitAsync(hardStop);
                    if (Interlocked.Read(ref _lowestFailed) != long.MaxValue)
                    {
                        window.Release();
                        break;
                    }
                    after = stored.Sequence;
                    var recallsNow = outbox.Recalls;
                    if (recallsNow == recalls)
                    {
                        _ = PublishOneAsync(stored, now, window, hardStop);
                        continue;
                    }
                    // A recall began since the batch was read: send the output only if it is still stored.
                    var started = await outbox.PublishIfStillStoredAsync(stored.Sequence, () => _ = PublishOneAsync(stored, now, window, hardStop), hardStop);
                    if (!started)
                    {
                        _suspectSettled |= stored.Sequence == _suspect;
                        Interlocked.Increment(ref _recalled);
                        window.Release();
                    }
                }
                if (_probing || Interlocked.Read(ref _lowestFailed) != long.MaxValue)
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
            // Only what was actually settled clears the suspicion and the backoff: a settle with nothing in flight does not.
            if (_suspectSettled)
            {
                ClearSuspect();
            }
            if (_anyAcknowledged)
            {
                _anyAcknowledged = false;
                _backoff = TimeSpan.Zero;
            }
            return after;
        }
        if (!upstream.IsConnected)
        {
            // The connection went away with this output the oldest unacknowledged one: it may be the cause. Next time
            // it goes alone, so that a repeat can be told from bad luck.
            _strikes = failed == _suspect ? _strikes + 1 : 1;
            _suspect = failed;
            _probing = true;
            if (_strikes >= ConnectionClosedStrikes && await RejectClosingOutputAsync(failed, cancellationToken))
            {
                ClearSuspect();
                return failed;
            }
        }
        else
        {
            // Connected but not acknowledged (timeout, quota exceeded, server busy): wait before trying again.
            _backoff = _backoff == TimeSpan.Zero
                ? _settings.MinBackoff
                : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _settings.MaxBackoff.Ticks));
            var delay = TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * _backoff.Ticks));
            LogBackoff(logger, failed, delay.TotalMilliseconds);
            await Task.Delay(delay, _settings.Time, cancellationToken);
        }
        LogRedelivery(logger, failed);
        return failed - 1;
    }

    private void ClearSuspect()
    {
        _probing = false;
        _suspect = -1;
        _strikes = 0;
        _suspectSettled = false;
    }

    /// <summary>Moves the output the upstream closed the connection on three times to the dead letters.</summary>
    private async Task<bool> RejectClosingOutputAsync(long sequence, CancellationToken cancellationToken)
    {
        var stored = outbox.ReadAfter(destination, sequence - 1, 1);
        if (stored.Count == 0 || stored[0].Sequence != sequence)
        {
            return false;
        }
        LogConnectionClosedOnOutput(logger, stored[0].Message.Stream, stored[0].Message.Purpose, ConnectionClosedStrikes);
        return await DeadLetterAsync(stored[0], "connection-closed", cancellationToken);
    }

    private async Task<bool> DeadLetterAsync(StoredMessage stored, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await outbox.DeadLetterAsync([new DeadLetter(stored.Sequence, stored.Message, reason, stored.ExpiresAt)], cancellationToken);
        }
        catch (OutboxUnavailableException)
        {
            // Not recorded (disk full): the output stays stored and is tried again, then rejected again.
            return false;
        }
        Interlocked.Increment(ref _rejected);
        LogDeadLettered(logger, stored.Message.Stream, stored.Message.Purpose, reason, stored.Message.Payload.Length);
        return true;
    }

    private async Task PublishOneAsync(StoredMessage stored, DateTimeOffset now, SemaphoreSlim window, CancellationToken cancellationToken)
    {
        PublishResult result;
        try
        {
            var message = stored.Message;
            if (stored.ExpiresAt is { } expiresAt && message.ExpirySeconds > 0)
            {
                // The upstream keeps it for what is left of its retention, not the whole period again.
                message = message with { ExpirySeconds = (uint)Math.Clamp(Math.Ceiling((expiresAt - now).TotalSeconds), 1, message.ExpirySeconds) };
            }
            result = await upstream.PublishAsync(message, cancellationToken);
            if (result.Outcome == PublishOutcome.Rejected && !await DeadLetterAsync(stored, result.Reason, cancellationToken))
            {
                result = PublishResult.ConnectionLost with { Reason = "dead-letter-not-stored" };
            }
        }
        catch (Exception)
        {
            result = PublishResult.ConnectionLost;
        }
        if (result.Outcome != PublishOutcome.Transient && stored.Sequence == Volatile.Read(ref _suspect))
        {
            _suspectSettled = true;
        }
        if (result.Outcome == PublishOutcome.Acknowledged)
        {
            _anyAcknowledged = true;
            FromOutbox.Add(stored.Message);
            lock (_acknowledgedLock)
            {
                _acknowledged.Add(stored.Sequence);
            }
        }
        else if (result.Outcome == PublishOutcome.Transient)
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
        long[] expired;
        lock (_acknowledgedLock)
        {
            if (_acknowledged.Count == 0 && _expired.Count == 0)
            {
                return;
            }
            sequences = [.. _acknowledged];
            expired = [.. _expired];
            _acknowledged.Clear();
            _expired.Clear();
        }
        if (sequences.Length > 0)
        {
            await outbox.AcknowledgeAsync(sequences, cancellationToken);
        }
        if (expired.Length > 0)
        {
            await outbox.ExpireAsync(expired, cancellationToken);
        }
    }

    [LoggerMessage(EventId = EventIds.OutboxDrainFailed, Level = LogLevel.Error, Message = "Outbox drainer failed ({Error}); starting over from the oldest stored output")]
    private static partial void LogDrainFailed(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.OutboxRedelivery, Level = LogLevel.Information, Message = "Upstream publish failed; resending from outbox position {Sequence}")]
    private static partial void LogRedelivery(ILogger logger, long sequence);

    [LoggerMessage(EventId = EventIds.TransientBackoff, Level = LogLevel.Information, Message = "Upstream did not acknowledge outbox position {Sequence}; retrying in {DelayMs} ms")]
    private static partial void LogBackoff(ILogger logger, long sequence, double delayMs);

    [LoggerMessage(EventId = EventIds.ConnectionClosedOnOutput, Level = LogLevel.Warning, Message = "Upstream closed the connection {Strikes} times in a row on one {Stream} output for {Purpose}; rejecting it")]
    private static partial void LogConnectionClosedOnOutput(ILogger logger, string stream, string purpose, int strikes);

    [LoggerMessage(EventId = EventIds.DeadLettered, Level = LogLevel.Warning, Message = "Upstream rejected a {Stream} output for {Purpose} ({Reason}, {Size} bytes); kept as a dead letter, not resent")]
    internal static partial void LogDeadLettered(ILogger logger, string stream, string purpose, string reason, int size);
}

/// <summary>How the drainer waits after a transient failure while connected (exponential, full jitter), and its clock.</summary>
internal sealed record DrainerSettings(TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeProvider Time)
{
    public static DrainerSettings Default { get; } = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), TimeProvider.System);

    public static DrainerSettings From(UpstreamOptions options, TimeProvider time) => new(options.ReconnectMinDelay, options.ReconnectMaxDelay, time);
}
