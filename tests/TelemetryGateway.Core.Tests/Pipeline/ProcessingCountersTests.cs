using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>Records of processing: what each purpose did, counted across every minimizer, never the values.</summary>
public sealed class ProcessingCountersTests
{
    [Fact]
    public void Counts_of_all_minimizers_add_up_per_purpose_and_action()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        var payload = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"sn":"SN1","sw_version":"v1","extra":1}"""));
        using (var first = new Minimizer(policy, TestPolicies.Key))
        using (var second = new Minimizer(policy, TestPolicies.Key))
        {
            first.Minimize("dt/anker_power/A17C0/SN1/firmware", payload);
            second.Minimize("dt/anker_power/A17C0/SN1/firmware", payload);
            second.Minimize("dt/anker_power/A17C0/SN1/firmware", new ReadOnlySequence<byte>("{"u8.ToArray()));
        }
        var improvement = policy.Streams.Single(s => s.Name == "firmware").Purposes.Single(p => p.Purpose == Vocabulary.Purpose.ProductImprovement);

        Assert.Equal(2, improvement.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(2, improvement.Counters[ProcessingAction.Hashed]);
        Assert.Equal(2, improvement.Counters[ProcessingAction.Dropped]);
    }

    [Fact]
    public void Consent_based_purposes_count_messages_skipped_for_missing_consent()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        minimizer.Minimize("dt/anker_power/A17C0/SN1/settings", new ReadOnlySequence<byte>("""{"language":"fr"}"""u8.ToArray()));

        var personalization = policy.Streams.Single(s => s.Name == "settings").Purposes.Single();
        Assert.Equal(1, personalization.Counters[ProcessingAction.NoConsent]);
        Assert.Equal(0, personalization.Counters[ProcessingAction.Forwarded]);
    }
}
