using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Tests.Policy;

public sealed class TopicFilterTests
{
    [Theory]
    [InlineData("dt/anker_power/{pn}/{sn}/status", "dt/anker_power/A17C0/SN1/status", true)]
    [InlineData("dt/anker_power/{pn}/{sn}/status", "dt/anker_power/A17C0/SN1/status/x", false)]
    [InlineData("dt/anker_power/{pn}/{sn}/status", "dt/anker_power/A17C0/status", false)]
    [InlineData("dt/+/+/+/log", "dt/anker_power/A17C0/SN1/log", true)]
    [InlineData("dt/#", "dt/anker_power/A17C0/SN1/log", true)]
    [InlineData("dt/#", "dt", true)]
    [InlineData("#", "$SYS/broker/load", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("a/+", "a/", true)]
    [InlineData("a/+", "a", false)]
    public void Matches_like_an_mqtt_filter(string filter, string topic, bool matches)
    {
        var parsed = TopicFilter.TryParse(filter, out var error);
        Assert.NotNull(parsed);
        Assert.Null(error);
        Assert.Equal(matches, parsed.TryMatch(topic, new Range[4]));
    }

    [Fact]
    public void Captures_named_levels()
    {
        var filter = TopicFilter.TryParse("dt/anker_power/{pn}/{sn}/status", out _)!;
        var captures = new Range[2];
        const string topic = "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/status";
        Assert.True(filter.TryMatch(topic, captures));
        Assert.Equal("A17C0", topic[captures[filter.CaptureIndex("pn")]]);
        Assert.Equal("WK1DEGZD8PCF32ER", topic[captures[filter.CaptureIndex("sn")]]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/#/b")]
    [InlineData("a/b+")]
    [InlineData("a/{}/b")]
    [InlineData("a/{x y}")]
    [InlineData("a/{sn}/{sn}")]
    [InlineData("a/x{sn}")]
    public void Rejects_a_bad_filter_with_a_reason(string filter)
    {
        Assert.Null(TopicFilter.TryParse(filter, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
