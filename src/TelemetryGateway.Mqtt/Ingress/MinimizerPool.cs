using System.Collections.Concurrent;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Minimizers for the broker's receive loops: a <see cref="Minimizer"/> is single-threaded and keeps warm buffers,
/// so each publish borrows one and returns it. The pool grows to the number of concurrently receiving clients.
/// </summary>
internal sealed class MinimizerPool(CompiledPolicy policy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates) : IDisposable
{
    private readonly ConcurrentBag<Minimizer> _idle = [];

    public CompiledPolicy Policy => policy;

    public Minimizer Rent() => _idle.TryTake(out var minimizer) ? minimizer : new Minimizer(policy, key, gates);

    public void Return(Minimizer minimizer) => _idle.Add(minimizer);

    public void Dispose()
    {
        while (_idle.TryTake(out var minimizer))
        {
            minimizer.Dispose();
        }
    }
}
