using Microsoft.Extensions.Configuration;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Tests.Routing;

public sealed class IngressRouteCatalogTests
{
    private static readonly CompiledPolicy s_policy = PolicyCompiler.CompileFile(Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json"));

    [Fact]
    public void Resolves_the_only_purpose_of_a_stream()
    {
        var (catalog, errors) = Build(("Routes:p:Match:Path", "/api/photos"), ("Routes:p:Metadata:TelemetryGateway.Stream", "installation-photos"));

        Assert.Empty(errors);
        Assert.Equal("after-sales-service", catalog!.Find("p")!.PurposeId);
    }

    [Fact]
    public void A_route_names_one_entry_of_the_commissioning_stream_the_contract_one_or_the_consent_one()
    {
        var (catalog, errors) = Build(
            ("Routes:c:Match:Path", "/api/commissioning"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"),
            ("Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
            ("Routes:o:Match:Path", "/api/owner-contact/{sn}"), ("Routes:o:Transforms:0:PathSet", "/ingest/owner-contact"),
            ("Routes:o:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:o:Metadata:TelemetryGateway.Purpose", "after-sales-owner-contact"));

        Assert.Empty(errors);
        var contract = catalog!.Find("c")!;
        Assert.Equal(("after-sales-service", "after-sales-service", Core.Vocabulary.LegalBasis.Contract), (contract.Purpose.Name, contract.PurposeId, contract.Purpose.LegalBasis));
        Assert.Equal(PayloadFormat.Json, contract.Format);
        Assert.False(contract.Streams);
        Assert.Equal(IngressRouteCatalog.DefaultMaxJsonBytes, contract.MaxBodyBytes);
        // The consent entry: the gates decide per request for the device its route value names (403 without consent).
        var owner = catalog.Find("o")!;
        Assert.Equal(("after-sales-owner-contact", "after-sales-service", Core.Vocabulary.LegalBasis.Consent), (owner.Purpose.Name, owner.PurposeId, owner.Purpose.LegalBasis));
        Assert.Equal("sn", owner.DeviceRouteValue);
    }

    [Fact]
    public void A_commissioning_route_without_an_entry_is_an_error_listing_both_entries()
    {
        var (catalog, errors) = Build(("Routes:c:Match:Path", "/api/commissioning"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"));

        Assert.Null(catalog);
        Assert.Contains("TelemetryGateway.Purpose is required: stream 'commissioning' has several purposes (after-sales-service, after-sales-owner-contact)", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Routes_get_a_gzip_ratio_and_a_time_budget_by_default_or_from_their_metadata()
    {
        var (catalog, errors) = Build(
            ("Routes:a:Match:Path", "/a"), ("Routes:a:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:a:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
            ("Routes:b:Match:Path", "/b"), ("Routes:b:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:b:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
            ("Routes:b:Metadata:TelemetryGateway.MaxGzipRatio", "20"), ("Routes:b:Metadata:TelemetryGateway.MaxRequestSeconds", "5"));

        Assert.Empty(errors);
        Assert.Equal(IngressRouteCatalog.DefaultMaxGzipRatio, catalog!.Find("a")!.MaxGzipRatio);
        Assert.Equal(TimeSpan.FromSeconds(IngressRouteCatalog.DefaultMaxRequestSeconds), catalog.Find("a")!.MaxRequestTime);
        Assert.Equal(20, catalog.Find("b")!.MaxGzipRatio);
        Assert.Equal(TimeSpan.FromSeconds(5), catalog.Find("b")!.MaxRequestTime);
    }

    [Fact]
    public void Rejects_a_gzip_ratio_or_time_budget_out_of_range()
    {
        var (_, errors) = Build(
            ("Routes:a:Match:Path", "/a"), ("Routes:a:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:a:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
            ("Routes:a:Metadata:TelemetryGateway.MaxGzipRatio", "1"), ("Routes:a:Metadata:TelemetryGateway.MaxRequestSeconds", "0"));

        Assert.Contains(errors, e => e.Contains("TelemetryGateway.MaxGzipRatio", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("TelemetryGateway.MaxRequestSeconds", StringComparison.Ordinal));
    }

    [Fact]
    public void A_route_goes_to_the_sites_region_unless_its_metadata_names_a_region_its_purposes_residency_allows()
    {
        var (catalog, errors) = Build(
            ("Routes:a:Match:Path", "/a"), ("Routes:a:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:a:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
            ("Routes:f:Match:Path", "/f"), ("Routes:f:Metadata:TelemetryGateway.Stream", "firmware"),
            ("Routes:f:Metadata:TelemetryGateway.Purpose", "product-improvement"), ("Routes:f:Metadata:TelemetryGateway.Region", "us"));

        Assert.Empty(errors);
        Assert.Equal(("eea", "none"), (catalog!.Find("a")!.Region, catalog.Find("a")!.Safeguard));
        Assert.Equal(("us", "scc"), (catalog.Find("f")!.Region, catalog.Find("f")!.Safeguard));
    }

    [Fact]
    public void Rejects_a_route_to_a_region_its_purpose_may_not_go_to()
    {
        var (catalog, errors) = Build(
            ("Routes:a:Match:Path", "/a"), ("Routes:a:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:a:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:a:Metadata:TelemetryGateway.Region", "us"),
            ("Routes:b:Match:Path", "/b"), ("Routes:b:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:b:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:b:Metadata:TelemetryGateway.Region", "US!"));

        Assert.Null(catalog);
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("ReverseProxy:Routes:a:Metadata:TelemetryGateway.Region: purpose 'after-sales-service' of stream 'commissioning' may not go to region 'us'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ReverseProxy:Routes:b:Metadata:TelemetryGateway.Region must be a region id", StringComparison.Ordinal));
    }

    [Fact]
    public void Rejects_an_unknown_stream_and_lists_the_streams()
    {
        var (catalog, errors) = Build(("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", "nope"));

        Assert.Null(catalog);
        var error = Assert.Single(errors);
        Assert.Contains("'nope' is not a stream", error, StringComparison.Ordinal);
        Assert.Contains("commissioning", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Requires_a_purpose_when_the_stream_has_several_and_lists_them()
    {
        var stream = s_policy.Streams.First(s => s.Purposes.Count > 1 && s.Format == PayloadFormat.Json);

        var (_, errors) = Build(("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", stream.Name));

        var error = Assert.Single(errors);
        Assert.Contains("TelemetryGateway.Purpose is required", error, StringComparison.Ordinal);
        Assert.Contains(Core.Vocabulary.PrivacyVocabulary.Id(stream.Purposes[1].Purpose), error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_purpose_the_stream_does_not_have()
    {
        var (_, errors) = Build(
            ("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:c:Metadata:TelemetryGateway.Purpose", "marketing"));

        Assert.Contains("'marketing' is not a purpose of stream 'commissioning' (after-sales-service, after-sales-owner-contact)", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Reports_the_errors_of_every_route_at_once()
    {
        var (_, errors) = Build(
            ("Routes:a:Match:Path", "/a"), ("Routes:a:Metadata:TelemetryGateway.Stream", "nope"),
            ("Routes:b:Match:Path", "/b"), ("Routes:b:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:b:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:b:Metadata:TelemetryGateway.MaxBodyBytes", "-1"),
            ("Routes:c:Match:Path", "/c"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:c:Metadata:TelemetryGateway.MaxGzipRatio", "1"));

        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public void Rejects_a_route_whose_forwarded_path_would_carry_a_captured_value()
    {
        var (_, errors) = Build(("Routes:c:Match:Path", "/api/logs/{sn}"), ("Routes:c:Metadata:TelemetryGateway.Stream", "log"));

        Assert.Contains("would carry the route value 'sn'", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_a_captured_value_left_out_by_path_set()
    {
        var (catalog, errors) = Build(
            ("Routes:c:Match:Path", "/api/logs/{sn}"), ("Routes:c:Transforms:0:PathSet", "/ingest/logs"),
            ("Routes:c:Metadata:TelemetryGateway.Stream", "log"));

        Assert.Empty(errors);
        Assert.Equal("sn", catalog!.Find("c")!.DeviceRouteValue);
    }

    [Fact]
    public void Rejects_a_limit_over_what_can_be_read_whole_for_a_format_that_does_not_stream()
    {
        var (_, errors) = Build(
            ("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:c:Metadata:TelemetryGateway.MaxBodyBytes", "4294967296"));

        Assert.Contains("json bodies are read whole", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_route_that_sets_a_body_format_is_an_error_naming_the_policy_s_format()
    {
        var (catalog, errors) = Build(
            ("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:c:Metadata:TelemetryGateway.BodyFormat", "text"));

        Assert.Null(catalog);
        var error = Assert.Single(errors);
        Assert.Contains("TelemetryGateway.BodyFormat: a route names only the stream it feeds", error, StringComparison.Ordinal);
        Assert.Contains("'json' for stream 'commissioning'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_route_that_sets_the_format_its_stream_already_has_is_still_an_error()
    {
        var (_, errors) = Build(
            ("Routes:c:Match:Path", "/x"), ("Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"), ("Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"), ("Routes:c:Metadata:TelemetryGateway.BodyFormat", "json"));

        Assert.Contains("TelemetryGateway.BodyFormat", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Image_and_log_streams_stream_their_bodies_with_their_own_default_limits()
    {
        var (catalog, errors) = Build(
            ("Routes:p:Match:Path", "/photos"), ("Routes:p:Metadata:TelemetryGateway.Stream", "installation-photos"),
            ("Routes:l:Match:Path", "/logs"), ("Routes:l:Metadata:TelemetryGateway.Stream", "log"));

        Assert.Empty(errors);
        Assert.Equal((PayloadFormat.Image, true, IngressRouteCatalog.DefaultMaxImageBytes), (catalog!.Find("p")!.Format, catalog.Find("p")!.Streams, catalog.Find("p")!.MaxBodyBytes));
        Assert.Equal((PayloadFormat.Text, true, IngressRouteCatalog.DefaultMaxTextBytes), (catalog.Find("l")!.Format, catalog.Find("l")!.Streams, catalog.Find("l")!.MaxBodyBytes));
    }

    [Fact]
    public void Rejects_a_route_without_a_configured_cluster()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("ReverseProxy:Routes:c:ClusterId", "elsewhere"), new("ReverseProxy:Routes:c:Match:Path", "/x"), new("ReverseProxy:Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"),
                new("ReverseProxy:Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service")])
            .Build();

        var (_, errors) = IngressRouteCatalog.Build(configuration.GetSection("ReverseProxy"), s_policy);

        Assert.Contains("ClusterId must name a cluster", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_log_stream_route_scrubs_text_by_its_purpose_rules_in_the_policy()
    {
        var (catalog, errors) = Build(("Routes:l:Match:Path", "/logs/{sn}"), ("Routes:l:Metadata:TelemetryGateway.Stream", "log"),
            ("Routes:l:Transforms:0:PathSet", "/logs"));

        Assert.Empty(errors);
        var route = catalog!.Find("l")!;
        Assert.Equal(PayloadFormat.Text, route.Format);
        Assert.Same(s_policy.Streams.Single(s => s.Name == "log").Purposes[0], route.Purpose);
    }

    [Fact]
    public void A_log_stream_route_cannot_override_the_serial_rule_of_the_policy()
    {
        var (_, errors) = Build(("Routes:l:Match:Path", "/logs/{sn}"), ("Routes:l:Metadata:TelemetryGateway.Stream", "log"),
            ("Routes:l:Metadata:TelemetryGateway.Serial", "keep"), ("Routes:l:Transforms:0:PathSet", "/logs"));

        Assert.Contains(errors, e => e.Contains("TelemetryGateway.Serial", StringComparison.Ordinal));
    }

    private static (IngressRouteCatalog? Catalog, IReadOnlyList<string> Errors) Build(params (string Key, string Value)[] settings)
    {
        // Every route of these tests goes to one configured cluster.
        var routeIds = settings.Select(s => s.Key.Split(':')[1]).Distinct();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>("ReverseProxy:" + s.Key, s.Value)))
            .AddInMemoryCollection(routeIds.Select(id => new KeyValuePair<string, string?>($"ReverseProxy:Routes:{id}:ClusterId", "cloud")))
            .AddInMemoryCollection([new("ReverseProxy:Clusters:cloud:Destinations:d:Address", "http://127.0.0.1:9/")])
            .Build();
        return IngressRouteCatalog.Build(configuration.GetSection("ReverseProxy"), s_policy);
    }
}
