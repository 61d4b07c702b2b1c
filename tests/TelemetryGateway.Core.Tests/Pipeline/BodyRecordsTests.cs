using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

public sealed class BodyRecordsTests
{
    [Fact]
    public void Counts_forwarded_bodies_and_what_their_rewrite_did_for_the_purpose()
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep" }""");
        var purpose = policy.Streams[0].Purposes[0];
        var records = new BodyRecords(policy);

        records.Forwarded(purpose, new ProcessingTally(Dropped: 3, 0, 0, 0));
        records.Forwarded(purpose, new ProcessingTally(0, Redacted: 2, Hashed: 1, Coarsened: 4));

        Assert.Equal(2, purpose.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(3, purpose.Counters[ProcessingAction.Dropped]);
        Assert.Equal(2, purpose.Counters[ProcessingAction.Redacted]);
        Assert.Equal(1, purpose.Counters[ProcessingAction.Hashed]);
        Assert.Equal(4, purpose.Counters[ProcessingAction.Coarsened]);
    }

    [Fact]
    public void Counts_of_two_instances_add_up()
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep" }""");
        var purpose = policy.Streams[0].Purposes[0];

        new BodyRecords(policy).Forwarded(purpose, default);
        new BodyRecords(policy).Forwarded(purpose, default);

        Assert.Equal(2, purpose.Counters[ProcessingAction.Forwarded]);
    }
}
