using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Json;

/// <summary>Objects the policy leaves empty are dropped with their name, on every segmentation of the input.</summary>
public sealed class EmptyObjectTests
{
    public static TheoryData<Segmentation> Inputs => Segments.All;

    [Theory, MemberData(nameof(Inputs))]
    public void Drops_an_object_whose_every_field_the_policy_dropped(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep", "network": { "fields": { "rssi": "keep" } } }""");
        Assert.Equal("""{"a":1}""", MinimizerRun.OnlyOutput(policy, """{"a":1,"network":{"ssid":"Home","password":"hunter2"}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Keeps_the_separators_right_around_a_dropped_object(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep", "network": { "fields": { "rssi": "keep" } }, "b": "keep" }""");
        Assert.Equal("""{"a":1,"b":2}""", MinimizerRun.OnlyOutput(policy, """{"a":1,"network":{"ssid":"Home"},"b":2}""", input));
        Assert.Equal("""{"b":2}""", MinimizerRun.OnlyOutput(policy, """{"network":{"ssid":"Home"},"b":2}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Drops_nested_objects_left_empty_level_by_level(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep", "network": { "fields": { "wifi": { "fields": { "rssi": "keep" } } } } }""");
        Assert.Equal("""{"a":1}""", MinimizerRun.OnlyOutput(policy, """{"network":{"wifi":{"ssid":"Home","bssid":"aa:bb"}},"a":1}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Keeps_an_object_with_one_kept_field(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "network": { "fields": { "wifi": { "fields": { "rssi": "keep" } }, "ip": "keep" } } }""");
        Assert.Equal("""{"network":{"ip":"10.0.0.2"}}""", MinimizerRun.OnlyOutput(policy, """{"network":{"wifi":{"ssid":"Home"},"ip":"10.0.0.2"}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Keeps_an_empty_object_the_policy_keeps_whole(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "o": "keep" }""");
        Assert.Equal("""{"o":{}}""", MinimizerRun.OnlyOutput(policy, """{"o":{}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Dropping_empty_objects_allocates_nothing_in_steady_state(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep", "network": { "fields": { "wifi": { "fields": { "rssi": "keep" } } } }, "b": "keep" }""");
        var payload = Segments.Split(System.Text.Encoding.UTF8.GetBytes("""{"a":1,"network":{"wifi":{"ssid":"Home"}},"b":2}"""), input);
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        Assert.Equal("""{"a":1,"b":2}""", System.Text.Encoding.UTF8.GetString(minimizer.Minimize("t/SN1", payload).Outputs.Span[0].Payload.Span));

        var allocated = Allocations.SteadyState(() => minimizer.Minimize("t/SN1", payload));

        Assert.Equal(0, allocated);
    }
}
