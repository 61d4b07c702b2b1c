using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Aggregation;

/// <summary>
/// Releases the anonymous aggregates (issue 18) on the window clock: every tick it asks each aggregate entry's windows
/// for those that ended, and delivers each released group through the same path as every output (encoder, direct
/// delivery or the outbox). An aggregator of a policy generation that was replaced is kept until its windows are
/// released. At stop (after the broker stopped, so no device adds to a window) every open window is released: a group
/// that meets k goes out, the others are dropped.
/// </summary>
internal sealed partial class AggregateReleaser(
    PolicyGenerations generations, UpstreamEncoder encoder, Destinations delivery, TimeProvider time, ILogger<AggregateReleaser> logger)
    : IHostedService, IDisposable
{
    private static readonly TimeSpan s_longestTick = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<WindowAggregator> _aggregators = [];
    private readonly Lock _lock = new();
    // Read and written on the releasing loop only (and at stop, after it ended).
    private readonly Dictionary<WindowAggregator, long> _droppedReported = [];
    private Task? _running;
    private long _released;
    private long _withheld;

    /// <summary>Aggregates released so far (groups that met k).</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Released aggregates no configured upstream may take (notice §7): withheld, not sent.</summary>
    public long WithheldWithoutDestination => Interlocked.Read(ref _withheld);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Runs whatever the policy: a reload may bring aggregate entries (a tick without any costs a list of none).
        _running = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_running is not null)
        {
            await _running;
        }
        var released = 0;
        foreach (var aggregator in Aggregators())
        {
            var reports = new List<AggregateWindowReport>();
            var releases = aggregator.ReleaseAll(reports);
            released += releases.Count;
            await DeliverAsync(aggregator, releases, reports, CancellationToken.None);
        }
        LogFlushedAtStop(logger, released);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Tick(), time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            foreach (var aggregator in Aggregators())
            {
                var reports = new List<AggregateWindowReport>();
                var releases = aggregator.ReleaseEnded(reports);
                await DeliverAsync(aggregator, releases, reports, stopping);
                Forget(aggregator);
            }
        }
    }

    private async Task DeliverAsync(WindowAggregator aggregator, IReadOnlyList<AggregateRelease> releases, List<AggregateWindowReport> reports, CancellationToken stopping)
    {
        foreach (var report in reports)
        {
            LogWindowReleased(logger, aggregator.Entry.StreamName, aggregator.Entry.Name, report.Groups, report.Released, report.Suppressed,
                report.Folded, report.GroupOverflow, report.DeviceOverflow);
        }
        var dropped = aggregator.ClosedWindowOverflow;
        if (dropped > _droppedReported.GetValueOrDefault(aggregator))
        {
            _droppedReported[aggregator] = dropped;
            LogWindowsDropped(logger, aggregator.Entry.StreamName, aggregator.Entry.Name, dropped);
        }
        if (releases.Count == 0)
        {
            return;
        }
        try
        {
            var outputs = new List<UpstreamMessage>(releases.Count);
            var withheld = 0;
            foreach (var release in releases)
            {
                if (encoder.EncodeAggregate(release, outputs) == 0)
                {
                    withheld++;
                }
            }
            if (withheld > 0)
            {
                // No configured upstream lies in a region this entry may go to (notice §7): withheld, never sent elsewhere.
                Interlocked.Add(ref _withheld, withheld);
                LogWithoutDestination(logger, aggregator.Entry.StreamName, aggregator.Entry.Name, withheld);
            }
            if (outputs.Count > 0)
            {
                await delivery.DeliverAsync(outputs, stopping);
            }
            Interlocked.Add(ref _released, releases.Count - withheld);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The outbox could not take them either (a full disk, say): the aggregates of this window are lost, counted.
            LogDeliveryFailed(logger, aggregator.Entry.StreamName, aggregator.Entry.Name, releases.Count, e.GetType().Name);
        }
    }

    /// <summary>The aggregators of the policy in service, and those of replaced generations not yet released.</summary>
    private List<WindowAggregator> Aggregators()
    {
        lock (_lock)
        {
            foreach (var stream in generations.Current.Policy.Streams)
            {
                foreach (var entry in stream.Purposes)
                {
                    if (entry.Aggregator is { } aggregator)
                    {
                        _aggregators.Add(aggregator);
                    }
                }
            }
            return [.. _aggregators];
        }
    }

    /// <summary>Lets go of an aggregator no longer in service once its windows were released.</summary>
    private void Forget(WindowAggregator aggregator)
    {
        var current = generations.Current.Policy.Streams.SelectMany(s => s.Purposes).Any(p => ReferenceEquals(p.Aggregator, aggregator));
        if (!current && aggregator.IsIdle)
        {
            lock (_lock)
            {
                _aggregators.Remove(aggregator);
            }
            _droppedReported.Remove(aggregator);
        }
    }

    /// <summary>Often enough to release a window within a quarter of its length, at least once a second.</summary>
    private TimeSpan Tick()
    {
        var shortest = s_longestTick;
        foreach (var aggregator in Aggregators())
        {
            var quarter = aggregator.Rules.Window / 4;
            if (quarter < shortest)
            {
                shortest = quarter;
            }
        }
        return shortest < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : shortest;
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(EventId = EventIds.AggregateWindowReleased, Level = LogLevel.Information, Message = "Aggregate window ended: stream {Stream}, entry {Entry}: "
        + "{Groups} groups, {Released} released, {Suppressed} suppressed (fewer than k devices); {Folded} messages folded; "
        + "{GroupOverflow} messages of groups over the bound and {DeviceOverflow} of devices over the bound not folded")]
    private static partial void LogWindowReleased(
        ILogger logger, string stream, string entry, int groups, int released, int suppressed, long folded, long groupOverflow, long deviceOverflow);

    [LoggerMessage(EventId = EventIds.AggregateDeliveryFailed, Level = LogLevel.Error, Message = "Aggregates of stream {Stream}, entry {Entry} not delivered: {Count} lost ({Error})")]
    private static partial void LogDeliveryFailed(ILogger logger, string stream, string entry, int count, string error);

    [LoggerMessage(EventId = EventIds.AggregateWindowsDropped, Level = LogLevel.Warning, Message = "Aggregate windows of stream {Stream}, entry {Entry} dropped unreleased so far: {Count} (more windows ended than were released)")]
    private static partial void LogWindowsDropped(ILogger logger, string stream, string entry, long count);

    [LoggerMessage(EventId = EventIds.AggregatesWithoutDestination, Level = LogLevel.Warning, Message = "Aggregates of stream {Stream}, entry {Entry}: {Count} withheld, "
        + "as no configured upstream lies in a region the entry's residency allows from the site's region")]
    private static partial void LogWithoutDestination(ILogger logger, string stream, string entry, int count);

    [LoggerMessage(EventId = EventIds.AggregatesFlushedAtStop, Level = LogLevel.Information, Message = "Aggregates at stop: {Released} groups of open windows released (those under k dropped)")]
    private static partial void LogFlushedAtStop(ILogger logger, int released);
}
