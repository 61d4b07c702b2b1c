using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>The consent, objection and restriction gates on a snapshot of the data subjects' choices (notice 5.3, 9.4, 9.7, 9.8).</summary>
public sealed class ChoiceGatesTests
{
    private const string Device = "SERIALCANARY0001";
    private const string OtherDevice = "SERIALCANARY0002";
    private static readonly byte[] s_firmware = Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}""");
    private static readonly byte[] s_settings = Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","language":"de"}""");

    [Fact]
    public void A_granted_consent_lets_the_consent_purpose_through_for_that_device_only()
    {
        var choices = new Choices();
        choices.Record(Device, ChoiceAction.Grant, Purpose.Personalization);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = Gated(policy, choices);

        Assert.Equal([Purpose.Personalization], Purposes(minimizer.Minimize(Topic(Device, "settings"), Payload(s_settings))));
        Assert.Empty(Purposes(minimizer.Minimize(Topic(OtherDevice, "settings"), Payload(s_settings))));
    }

    [Fact]
    public void An_objection_stops_that_purpose_for_that_device_only_and_is_counted()
    {
        var choices = new Choices();
        choices.Record(Device, ChoiceAction.Objection, Purpose.ProductImprovement);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = Gated(policy, choices);

        var objected = minimizer.Minimize(Topic(Device, "firmware"), Payload(s_firmware));
        Assert.Equal([Purpose.AfterSalesService, Purpose.SafetyRecall], Purposes(objected));
        var other = minimizer.Minimize(Topic(OtherDevice, "firmware"), Payload(s_firmware));
        Assert.Equal([Purpose.AfterSalesService, Purpose.ProductImprovement, Purpose.SafetyRecall], Purposes(other));
        var improvement = objected.Stream!.Purposes.Single(p => p.Purpose == Purpose.ProductImprovement);
        Assert.Equal(1, improvement.Counters[ProcessingAction.Objected]);
    }

    [Fact]
    public void An_objection_to_every_legitimate_interest_purpose_leaves_contract_purposes()
    {
        var choices = new Choices();
        choices.Record(Device, ChoiceAction.Objection, allLegitimateInterest: true);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = Gated(policy, choices);

        Assert.Equal([Purpose.AfterSalesService], Purposes(minimizer.Minimize(Topic(Device, "firmware"), Payload(s_firmware))));
    }

    [Fact]
    public void A_restriction_lets_only_its_purposes_through_and_is_counted()
    {
        var choices = new Choices();
        choices.Record(Device, ChoiceAction.Restrict, Purpose.SafetyRecall);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = Gated(policy, choices);

        var result = minimizer.Minimize(Topic(Device, "firmware"), Payload(s_firmware));

        Assert.Equal([Purpose.SafetyRecall], Purposes(result));
        Assert.Equal(1, result.Stream!.Purposes.Single(p => p.Purpose == Purpose.AfterSalesService).Counters[ProcessingAction.Restricted]);
    }

    [Fact]
    public void A_change_takes_effect_for_the_next_message()
    {
        var choices = new Choices();
        using var minimizer = Gated(TestPolicies.Default, choices);
        choices.Record(Device, ChoiceAction.Grant, Purpose.Personalization);
        Assert.Single(Purposes(minimizer.Minimize(Topic(Device, "settings"), Payload(s_settings))));

        choices.Record(Device, ChoiceAction.Withdraw, Purpose.Personalization);

        Assert.Empty(Purposes(minimizer.Minimize(Topic(Device, "settings"), Payload(s_settings))));
    }

    [Fact]
    public void The_gates_allocate_nothing_in_steady_state_with_many_devices_on_record()
    {
        var choices = new Choices();
        for (var i = 0; i < 500; i++)
        {
            choices.Record($"SERIAL{i:D10}", ChoiceAction.Grant, Purpose.Personalization);
        }
        choices.Record(Device, ChoiceAction.Grant, Purpose.Personalization);
        choices.Record(Device, ChoiceAction.Restrict, Purpose.Personalization, Purpose.AfterSalesService, Purpose.ProductImprovement);
        using var minimizer = Gated(TestPolicies.Default, choices);
        var inputs = new[] { (Topic(Device, "settings"), s_settings), (Topic(Device, "firmware"), s_firmware), (Topic(OtherDevice, "firmware"), s_firmware) };
        int Run()
        {
            var outputs = 0;
            foreach (var (topic, payload) in inputs)
            {
                outputs += minimizer.Minimize(topic, Payload(payload)).Outputs.Length;
            }
            return outputs;
        }

        Assert.Equal(1 + 2 + 3, Run());
        Assert.Equal(0, Allocations.SteadyState(() => Run()));
    }

    private static Minimizer Gated(CompiledPolicy policy, Choices choices) =>
        new(policy, TestPolicies.Key, [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)]);

    private static string Topic(string device, string kind) => $"dt/anker_power/A17C0/{device}/{kind}";

    private static ReadOnlySequence<byte> Payload(byte[] bytes) => new(bytes);

    private static Purpose[] Purposes(MinimizationResult result) => [.. result.Outputs.ToArray().Select(o => o.Tags.Purpose)];

    /// <summary>The choices the gates read: a snapshot replaced on each change, as the registry does.</summary>
    private sealed class Choices : IChoicesSource
    {
        public ChoicesSnapshot Current { get; private set; } = ChoicesSnapshot.Empty;

        public void Record(string device, ChoiceAction action, params Purpose[] purposes) => Record(device, action, false, purposes);

        public void Record(string device, ChoiceAction action, bool allLegitimateInterest, params Purpose[] purposes)
        {
            var request = new ChoiceRequest(device, action, PurposeSet.Of(purposes), allLegitimateInterest, "2025-09-26", "test", ChoiceSource.Cli);
            Current = Current.With(device, Current.Of(device).Apply(request));
        }
    }
}
