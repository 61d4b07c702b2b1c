using System.Collections.Concurrent;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Minimizers for the broker's receive loops: a <see cref="Minimizer"/> is single-threaded and keeps warm buffers,
/// so each publish borrows one and returns it. The pool grows to the number of concurrently receiving clients. A
/// minimizer belongs to one policy generation: a publish finishes under the generation it started with, and after a
/// reload the pool hands out minimizers of the new generation only, disposing the old ones as they come back. All share
/// the site's learned values when the host registers them.
/// </summary>
internal sealed class MinimizerPool(PolicyGenerations generations, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates, LearnedSecrets? learned = null) : IDisposable
{
    private readonly ConcurrentBag<Minimizer> _idle = [];

    /// <summary>A pool over a policy that is never reloaded.</summary>
    public MinimizerPool(CompiledPolicy policy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates, LearnedSecrets? learned = null)
        : this(new PolicyGenerations(policy), key, gates, learned)
    {
    }

    /// <summary>The policy generation new work takes.</summary>
    public PolicyGenerations Generations => generations;

    public Minimizer Rent()
    {
        var policy = generations.Current.Policy;
        while (_idle.TryTake(out var minimizer))
        {
            if (ReferenceEquals(minimizer.Policy, policy))
            {
                return minimizer;
            }
            minimizer.Dispose();
        }
        return new Minimizer(policy, key, gates, learned);
    }

    public void Return(Minimizer minimizer)
    {
        if (ReferenceEquals(minimizer.Policy, generations.Current.Policy))
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
