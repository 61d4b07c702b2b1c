using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

public sealed class JsonBodyMinimizerTests
{
    private static StreamPurpose Commissioning =>
        TestPolicies.Default.Streams.Single(s => s.Name == "commissioning").Purposes.Single();

    public static TheoryData<string, Segmentation> CommissioningRecords()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var message in Support.Corpus.Messages.Where(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal)))
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(message.Id, segmentation);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CommissioningRecords))]
    public void No_never_canary_of_a_commissioning_record_remains(string id, Segmentation segmentation)
    {
        var message = Support.Corpus.Messages.Single(m => m.Id == id);
        using var minimizer = new JsonBodyMinimizer(TestPolicies.Default, TestPolicies.Key);

        var reason = minimizer.Minimize(Commissioning, Segments.Split(message.Payload, segmentation), out var output, out _);

        Assert.Equal(QuarantineReason.None, reason);
        foreach (var canary in message.Canaries.Where(c => c.IsNever))
        {
            Assert.False(CanaryScanner.Contains(output.Span, canary.Value), "a never canary remains");
        }
    }

    [Fact]
    public void Keeps_the_fields_the_purpose_allows()
    {
        using var minimizer = new JsonBodyMinimizer(TestPolicies.Default, TestPolicies.Key);

        minimizer.Minimize(Commissioning, new("""{"device":{"pn":"A17C0"},"owner":{"name":"x"}}"""u8.ToArray()), out var output, out _);

        using var document = JsonDocument.Parse(output);
        Assert.Equal("A17C0", document.RootElement.GetProperty("device").GetProperty("pn").GetString());
        Assert.False(document.RootElement.TryGetProperty("owner", out _));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Rejects_a_truncated_body(Segmentation segmentation)
    {
        using var minimizer = new JsonBodyMinimizer(TestPolicies.Default, TestPolicies.Key);

        var reason = minimizer.Minimize(Commissioning, Segments.Split("""{"device":{"pn":"A1"""u8, segmentation), out _, out _);

        Assert.Equal(QuarantineReason.MalformedJson, reason);
    }

    [Fact]
    public void Rejects_an_empty_body()
    {
        using var minimizer = new JsonBodyMinimizer(TestPolicies.Default, TestPolicies.Key);

        Assert.Equal(QuarantineReason.Empty, minimizer.Minimize(Commissioning, default, out _, out _));
    }

    [Fact]
    public void Reports_what_each_body_s_rewrite_did_and_records_nothing_before_it_is_forwarded()
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep" }""");
        var purpose = policy.Streams[0].Purposes[0];
        using var minimizer = new JsonBodyMinimizer(policy, TestPolicies.Key);

        minimizer.Minimize(purpose, new("""{"a":1,"b":2}"""u8.ToArray()), out _, out var first);
        minimizer.Minimize(purpose, new("""{"a":1}"""u8.ToArray()), out _, out var second);

        Assert.Equal((1, 0), (first.Dropped, second.Dropped));
        Assert.Equal(0, purpose.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(0, purpose.Counters[ProcessingAction.Dropped]);
    }
}
