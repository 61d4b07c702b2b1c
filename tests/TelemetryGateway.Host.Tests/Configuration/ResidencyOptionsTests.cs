using Microsoft.Extensions.Configuration;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Configuration;

/// <summary><c>Gateway:Upstreams</c> and <c>Gateway:Site</c> (notice §7): bound from configuration, validated with every error at once.</summary>
public sealed class ResidencyOptionsTests
{
    private static GatewayOptions Bind(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        var section = configuration.GetSection(GatewayOptions.SectionName);
        Assert.Empty(ConfigurationShape.Check(section));
        var options = section.Get<GatewayOptions>() ?? new GatewayOptions();
        return options with { Policy = new PolicyOptions { Path = TestFiles.DefaultPolicy } };
    }

    [Fact]
    public void Named_upstreams_bind_with_their_region_and_share_the_single_upstreams_settings()
    {
        var options = Bind(
            ("Gateway:Upstream:TopicPrefix", "cloud"),
            ("Gateway:Upstream:ClientId", "gw"),
            ("Gateway:Upstreams:eu:Url", "mqtts://eu.example:8883"),
            ("Gateway:Upstreams:eu:Region", "eea"),
            ("Gateway:Upstreams:west:Url", "mqtt://us.example:1883"),
            ("Gateway:Upstreams:west:Region", "us"),
            ("Gateway:Upstreams:west:ClientId", "gw-us"),
            ("Gateway:Site:Region", "eea"));

        Assert.Empty(options.Validate());
        var routes = options.Routes;
        Assert.Equal([("eu", "eea", "eu.example", "gw-eu"), ("west", "us", "us.example", "gw-us")],
            routes.Select(r => (r.Name, r.Region, r.Options.Endpoint!.Host, r.Options.ClientId)));
        Assert.All(routes, r => Assert.Equal("cloud", r.Options.TopicPrefix));
    }

    [Fact]
    public void Without_named_upstreams_the_single_upstream_is_the_site_regions()
    {
        var options = Bind(("Gateway:Upstream:Url", "mqtt://cloud.example:1883"), ("Gateway:Site:Region", "uk"));

        Assert.Empty(options.Validate());
        var route = Assert.Single(options.Routes);
        Assert.Equal(("upstream", "uk", "cloud.example"), (route.Name, route.Region, route.Options.Endpoint!.Host));
        Assert.Equal("eea", new GatewayOptions().Site.Region);
    }

    [Fact]
    public void Reports_every_residency_error_at_once()
    {
        var options = Bind(
            ("Gateway:Upstream:Url", "mqtt://cloud.example:1883"),
            ("Gateway:Upstreams:a1:Url", "mqtt://a.example:1883"),
            ("Gateway:Upstreams:a1:Region", "us"),
            ("Gateway:Upstreams:b2:Url", "mqtt://b.example:1883"),
            ("Gateway:Upstreams:b2:Region", "us"),
            ("Gateway:Upstreams:c3:Region", "US"),
            ("Gateway:Upstreams:d4:Url", "http://d.example"),
            ("Gateway:Site:Region", "Europe!"));

        var errors = options.Validate();

        Assert.Contains(errors, e => e.StartsWith("Gateway:Site:Region must be a region id", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstream:Url cannot be combined with Gateway:Upstreams", StringComparison.Ordinal));
        Assert.Contains("Gateway:Upstreams:b2:Region 'us' is already the region of Gateway:Upstreams:a1: one upstream per region", errors);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstreams:c3:Region is required: a region id", StringComparison.Ordinal));
        Assert.Contains("Gateway:Upstreams:c3:Url is required", errors);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstreams:d4:Region is required", StringComparison.Ordinal));
        Assert.Contains("Gateway:Upstreams:d4:Url must look like mqtt://host:port or mqtts://host:port", errors);
        Assert.Equal(7, errors.Count);
    }

    [Fact]
    public void An_unknown_key_under_a_named_upstream_is_refused()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("Gateway:Upstreams:eu:Regoin", "eea"), new("Gateway:Site:Zone", "x")])
            .Build();

        var errors = ConfigurationShape.Check(configuration.GetSection(GatewayOptions.SectionName));

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstreams:eu:Regoin: unknown setting", StringComparison.Ordinal) && e.Contains("Region", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Site:Zone: unknown setting", StringComparison.Ordinal));
    }
}
