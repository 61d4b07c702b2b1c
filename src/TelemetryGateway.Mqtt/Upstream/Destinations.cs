using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// One upstream outputs go to (notice §7): its region, which is also the destination its outputs carry in the outbox,
/// with its own direct delivery and its own outbox drainer.
/// </summary>
internal sealed class Destination(UpstreamRoute route, IUpstream upstream, UpstreamDelivery delivery, OutboxDrainer drainer)
{
    public string Name => route.Name;
    public string Region => route.Region;
    public UpstreamOptions Options => route.Options;
    public IUpstream Upstream => upstream;
    public UpstreamDelivery Delivery => delivery;
    public OutboxDrainer Drainer => drainer;

    /// <summary>The upstream's host for metric labels (never a credential); <c>site-broker</c> without an upstream URL.</summary>
    public string Server => route.Options.Endpoint?.Host ?? "site-broker";
}

/// <summary>Which regions outputs may be delivered to, and the site's (the origin of a device's data unless its own region is recorded).</summary>
internal sealed record RegionRouting(string SiteRegion, IReadOnlyList<string> Regions);

/// <summary>
/// Every upstream, one per region. Hands each encoded output to the delivery of the region it was encoded for; the
/// regions deliver side by side, so one whose upstream is down (its outputs go to the outbox) holds back no other.
/// </summary>
internal sealed class Destinations : IAsyncDisposable
{
    private readonly Destination[] _all;
    private readonly bool _ownsUpstreams;

    /// <param name="siteRegion">The site's region: the origin of the data outputs carry.</param>
    /// <param name="all">One destination per region.</param>
    /// <param name="ownsUpstreams">The upstreams were made for these destinations (not services of their own): disposed with them.</param>
    public Destinations(string siteRegion, IReadOnlyList<Destination> all, bool ownsUpstreams = false)
    {
        _all = [.. all];
        _ownsUpstreams = ownsUpstreams;
        Routing = new RegionRouting(siteRegion, [.. _all.Select(d => d.Region)]);
    }

    public IReadOnlyList<Destination> All => _all;

    public RegionRouting Routing { get; }

    /// <summary>Outputs acknowledged upstream on a direct publish, over every region.</summary>
    public long DeliveredDirectly => _all.Sum(d => d.Delivery.DeliveredDirectly);

    /// <summary>Outputs acknowledged upstream from the outbox, over every region.</summary>
    public long DeliveredFromOutbox => _all.Sum(d => d.Drainer.Delivered);

    /// <summary>Outputs acknowledged upstream, per purpose, on a direct publish (<paramref name="direct"/>) or from the outbox.</summary>
    public IEnumerable<KeyValuePair<string, long>> DeliveredPerPurpose(bool direct) =>
        DeliveredOutputs.Sum(_all.Select(d => direct ? d.Delivery.Direct : d.Drainer.FromOutbox));

    /// <summary>Outputs rejected by an upstream (dead letters), over every region.</summary>
    public long Rejected => _all.Sum(d => d.Delivery.Rejected + d.Drainer.Rejected);

    /// <summary>
    /// Delivers one message's outputs, each to the upstream of its <see cref="UpstreamMessage.Region"/>: completes once
    /// every one is acknowledged upstream or stored. Throws <see cref="OutboxUnavailableException"/> when any could not be stored.
    /// </summary>
    public Task DeliverAsync(IReadOnlyList<UpstreamMessage> outputs, CancellationToken cancellationToken)
    {
        if (_all.Length == 1)
        {
            return _all[0].Delivery.DeliverAsync(outputs, cancellationToken);
        }
        List<Task>? deliveries = null;
        foreach (var destination in _all)
        {
            List<UpstreamMessage>? mine = null;
            foreach (var output in outputs)
            {
                if (output.Region == destination.Region)
                {
                    (mine ??= []).Add(output);
                }
            }
            if (mine is not null)
            {
                (deliveries ??= []).Add(destination.Delivery.DeliverAsync(mine, cancellationToken));
            }
        }
        return deliveries is null ? Task.CompletedTask : Task.WhenAll(deliveries);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_ownsUpstreams)
        {
            return;
        }
        foreach (var destination in _all)
        {
            await destination.Upstream.DisposeAsync();
        }
    }
}
