using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Tests.Support;

namespace TelemetryGateway.Mqtt.Tests.Ingress;

/// <summary>The pool follows the policy generation: work in flight keeps its minimizer, new work gets the new policy.</summary>
public sealed class MinimizerPoolTests
{
    [Fact]
    public void After_a_reload_new_work_gets_a_minimizer_of_the_new_generation()
    {
        var generations = new PolicyGenerations(ShippedPolicy.Policy);
        using var pool = new MinimizerPool(generations, ShippedPolicy.Key, [new ConsentGate(NoConsentRecorded.Instance)]);
        var before = pool.Rent();
        pool.Return(before);

        generations.Swap(PolicyCompiler.CompileFile(Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json")));
        var after = pool.Rent();

        Assert.Same(generations.Current.Policy, after.Policy);
        Assert.NotSame(before, after);
        pool.Return(after);
    }

    [Fact]
    public void A_minimizer_rented_before_a_reload_keeps_its_policy_and_is_not_pooled_again()
    {
        var generations = new PolicyGenerations(ShippedPolicy.Policy);
        using var pool = new MinimizerPool(generations, ShippedPolicy.Key, [new ConsentGate(NoConsentRecorded.Instance)]);
        var inFlight = pool.Rent();

        generations.Swap(PolicyCompiler.CompileFile(Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json")));

        Assert.Same(ShippedPolicy.Policy, inFlight.Policy);
        pool.Return(inFlight);
        var next = pool.Rent();
        Assert.NotSame(inFlight, next);
        Assert.Same(generations.Current.Policy, next.Policy);
        pool.Return(next);
    }
}
