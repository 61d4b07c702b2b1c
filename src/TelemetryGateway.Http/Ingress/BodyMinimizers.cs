using System.Collections.Concurrent;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// The pipeline's <see cref="Minimizer"/>s of one policy generation for request bodies: a minimizer is single-threaded
/// and a request holds one from its gate step to its record step (a streamed upload may take minutes), so the pool
/// grows to the number of concurrent uploads. Idle minimizers are kept, up to a bound: each one counts into its own
/// shard of the purposes' records. All share the site's learned values (the same as the MQTT ingress's).
/// </summary>
internal sealed class BodyMinimizers(CompiledPolicy policy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates, LearnedSecrets? learned = null) : IDisposable
{
    private const int MaxIdle = 64;
    private readonly ConcurrentBag<Minimizer> _idle = [];

    public CompiledPolicy Policy => policy;

    public Minimizer Rent() => _idle.TryTake(out var minimizer) ? minimizer : new Minimizer(policy, key, gates, learned);

    public void Return(Minimizer minimizer)
    {
        ArgumentNullException.ThrowIfNull(minimizer);
        if (_idle.Count < MaxIdle)
        {
            _idle.Add(minimizer);
        }
        else
        {
            minimizer.Dispose();
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var minimizer))
        {
            minimizer.Dispose();
        }
    }
}
