using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Outputs an upstream acknowledged, in all and per purpose (the notice's purpose ids, from the policy's compiled tags:
/// a small, bounded set, fit for a metric label). Counting an output allocates nothing once its purpose was seen.
/// </summary>
internal sealed class DeliveredOutputs
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _byPurpose = new(StringComparer.Ordinal);
    private long _total;

    public long Total => Interlocked.Read(ref _total);

    /// <summary>The count of each purpose seen so far.</summary>
    public IEnumerable<KeyValuePair<string, long>> ByPurpose =>
        _byPurpose.Select(p => new KeyValuePair<string, long>(p.Key, Interlocked.Read(ref p.Value.Value)));

    public void Add(UpstreamMessage output)
    {
        Interlocked.Increment(ref _total);
        Interlocked.Increment(ref _byPurpose.GetOrAdd(output.Purpose, static _ => new StrongBox<long>()).Value);
    }

    /// <summary>The counts of <paramref name="all"/> added up per purpose.</summary>
    public static IEnumerable<KeyValuePair<string, long>> Sum(IEnumerable<DeliveredOutputs> all) =>
        all.SelectMany(d => d.ByPurpose).GroupBy(p => p.Key, StringComparer.Ordinal).Select(g => new KeyValuePair<string, long>(g.Key, g.Sum(p => p.Value)));
}
