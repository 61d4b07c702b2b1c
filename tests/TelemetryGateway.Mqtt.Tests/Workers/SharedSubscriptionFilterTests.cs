using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Mqtt.Tests.Workers;

public sealed class SharedSubscriptionFilterTests
{
    [Fact]
    public void Every_stream_is_subscribed_under_the_group_with_captures_as_single_level_wildcards()
    {
        var filters = SharedSubscriptionWorker.SubscriptionFilters(ShippedPolicy.Policy, "telemetry-gateway");

        Assert.Contains("$share/telemetry-gateway/dt/anker_power/+/+/firmware", filters);
        Assert.All(filters, f => Assert.StartsWith("$share/telemetry-gateway/", f, StringComparison.Ordinal));
        Assert.All(filters, f => Assert.DoesNotContain("{", f, StringComparison.Ordinal));
    }

    [Fact]
    public void Streams_sharing_a_filter_are_subscribed_once()
    {
        var filters = SharedSubscriptionWorker.SubscriptionFilters(ShippedPolicy.Policy, "g");

        Assert.Equal(filters.Count, filters.Distinct(StringComparer.Ordinal).Count());
        Assert.True(filters.Count <= ShippedPolicy.Policy.Streams.Count);
    }
}
