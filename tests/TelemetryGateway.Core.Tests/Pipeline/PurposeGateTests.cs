using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>The gate step: a list of gates decides per device and purpose before anything is minimized, and refusals are counted.</summary>
public sealed class PurposeGateTests
{
    private const string FirmwareTopic = "dt/anker_power/A17C0/SERIALCANARY0001/firmware";
    private static readonly byte[] s_firmware = Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}""");

    [Fact]
    public void A_purpose_a_gate_refuses_gets_no_output_and_the_others_do()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = new Minimizer(policy, TestPolicies.Key, [new ConsentGate(NoConsentRecorded.Instance), new RefusePurpose(Purpose.SafetyRecall)]);

        var result = minimizer.Minimize(FirmwareTopic, new ReadOnlySequence<byte>(s_firmware));

        Assert.Equal([Purpose.AfterSalesService, Purpose.ProductImprovement], result.Outputs.ToArray().Select(o => o.Tags.Purpose));
        var safetyRecall = result.Stream!.Purposes.Single(p => p.Purpose == Purpose.SafetyRecall);
        Assert.Equal(1, safetyRecall.Counters[ProcessingAction.Withheld]);
        Assert.Equal(0, safetyRecall.Counters[ProcessingAction.Forwarded]);
    }

    [Fact]
    public void The_first_gate_that_refuses_decides_and_the_later_ones_are_not_asked()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        var later = new RefusePurpose(Purpose.SafetyRecall);
        using var minimizer = new Minimizer(policy, TestPolicies.Key, [new RefusePurpose(Purpose.SafetyRecall, ProcessingAction.NoConsent), later]);

        var result = minimizer.Minimize(FirmwareTopic, new ReadOnlySequence<byte>(s_firmware));

        var safetyRecall = result.Stream!.Purposes.Single(p => p.Purpose == Purpose.SafetyRecall);
        Assert.Equal(1, safetyRecall.Counters[ProcessingAction.NoConsent]);
        Assert.Equal(0, later.Asked(Purpose.SafetyRecall));
        Assert.Equal(1, later.Asked(Purpose.AfterSalesService));
    }

    [Fact]
    public void The_consent_gate_passes_every_legal_basis_but_consent_and_consent_only_when_on_record()
    {
        var policy = TestPolicies.Default;
        var settings = policy.Streams.Single(s => s.Name == "settings").Purposes.Single(p => p.LegalBasis == LegalBasis.Consent);
        var firmware = policy.Streams.Single(s => s.Name == "firmware").Purposes[0];

        Assert.True(new ConsentGate(NoConsentRecorded.Instance).Allows(firmware, "SERIALCANARY0001"));
        Assert.False(new ConsentGate(NoConsentRecorded.Instance).Allows(settings, "SERIALCANARY0001"));
        Assert.True(new ConsentGate(new ConsentFor("SERIALCANARY0001")).Allows(settings, "SERIALCANARY0001"));
        Assert.False(new ConsentGate(new ConsentFor("SERIALCANARY0001")).Allows(settings, "SERIALCANARY0002"));
    }

    [Fact]
    public void The_gate_sees_the_stream_s_device_capture()
    {
        var gate = new RefusePurpose(Purpose.SafetyRecall);
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [gate]);

        minimizer.Minimize(FirmwareTopic, new ReadOnlySequence<byte>(s_firmware));

        Assert.Equal(["SERIALCANARY0001"], gate.Devices.Distinct());
    }

    /// <summary>Refuses one purpose, counting the refusal as <paramref name="action"/>; records whom it was asked about.</summary>
    private sealed class RefusePurpose(Purpose refused, ProcessingAction action = ProcessingAction.Withheld) : IPurposeGate
    {
        private readonly Dictionary<Purpose, int> _asked = [];

        public List<string> Devices { get; } = [];

        public ProcessingAction RefusalAction => action;

        public int Asked(Purpose purpose) => _asked.GetValueOrDefault(purpose);

        public bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device)
        {
            _asked[purpose.Purpose] = Asked(purpose.Purpose) + 1;
            Devices.Add(device.ToString());
            return purpose.Purpose != refused;
        }
    }

    private sealed class ConsentFor(string device) : IConsentRegistry
    {
        public bool HasConsent(Purpose purpose, ReadOnlySpan<char> candidate) => candidate.SequenceEqual(device);
    }
}
