using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Protobuf;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>The rewriter on its own: one parse, one output per plan, and an instance reused from message to message.</summary>
public sealed class ProtobufMinimizerFanOutTests
{
    public static TheoryData<Segmentation> All => Segments.All;

    private static ProtobufPlan Plan(string fieldsJson)
    {
        var fields = TestPolicies.WithFields(fieldsJson).Streams[0].PurposeArray[0].Fields!;
        return ProtobufPlan.Compile(DeviceStatus.Descriptor, fields, "$", (path, message) => Assert.Fail($"{path}: {message}"))!;
    }

    [Theory]
    [MemberData(nameof(All))]
    public void One_parse_writes_one_output_per_plan(Segmentation segmentation)
    {
        ProtobufPlan[] plans = [Plan("""{ "pn": "keep" }"""), Plan("""{ "battery_soc": "keep", "location": "keep" }""")];
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var minimizer = new ProtobufMinimizer(pseudonymizer, maxPurposes: 2, maxDepth: 8);
        var status = ProtobufSamples.Status();

        minimizer.Begin(plans, maxDepth: 8);
        var reason = minimizer.Process(ProtobufSamples.Bytes(status, segmentation));

        Assert.Equal(QuarantineReason.None, reason);
        Assert.Equal(new DeviceStatus { Pn = "A17C0" }.ToByteArray(), minimizer.Output(0).ToArray());
        Assert.Equal(new DeviceStatus { BatterySoc = 76, Location = status.Location }.ToByteArray(), minimizer.Output(1).ToArray());
    }

    [Fact]
    public void Reused_instance_starts_each_message_afresh()
    {
        ProtobufPlan[] plans = [Plan("""{ "pn": "keep" }""")];
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var minimizer = new ProtobufMinimizer(pseudonymizer, maxPurposes: 1, maxDepth: 8);

        minimizer.Begin(plans, maxDepth: 8);
        Assert.Equal(QuarantineReason.MalformedProtobuf, minimizer.Process(new([0x12, 5, (byte)'A'])));
        minimizer.Begin(plans, maxDepth: 8);
        Assert.Equal(QuarantineReason.None, minimizer.Process(new(new DeviceStatus { Pn = "B" }.ToByteArray())));

        Assert.Equal(new DeviceStatus { Pn = "B" }.ToByteArray(), minimizer.Output(0).ToArray());
    }

    [Fact]
    public void Counts_are_committed_per_purpose()
    {
        ProtobufPlan[] plans = [Plan("""{ "pn": "keep" }"""), Plan("""{ "sn": "pseudonymize", "pn": "keep" }""")];
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var minimizer = new ProtobufMinimizer(pseudonymizer, maxPurposes: 2, maxDepth: 8);
        minimizer.Begin(plans, maxDepth: 8);
        Assert.Equal(QuarantineReason.None, minimizer.Process(new(new DeviceStatus { Sn = "S", Pn = "P", Ts = 1 }.ToByteArray())));
        var first = new long[Enum.GetValues<ProcessingAction>().Length];
        var second = new long[first.Length];

        minimizer.CommitCounts(0, first);
        minimizer.CommitCounts(1, second);

        Assert.Equal(2, first[(int)ProcessingAction.Dropped]);
        Assert.Equal(0, first[(int)ProcessingAction.Hashed]);
        Assert.Equal(1, second[(int)ProcessingAction.Dropped]);
        Assert.Equal(1, second[(int)ProcessingAction.Hashed]);
    }
}
