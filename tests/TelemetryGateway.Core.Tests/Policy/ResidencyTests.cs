using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Policy;

public sealed class ResidencyTests
{
    private static string PolicyWith(string residency) => $$"""
        {
          "id": "p", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}", "categories": ["device"],
              "purposes": {
                "diagnostics": { "legalBasis": "legitimate-interest", "retention": "P30D", "topic": "o",
                                 {{residency}} "fields": { "a": "keep" } }
              }
            }
          }
        }
        """;

    private static Residency CompileResidency(string residency) =>
        TestPolicies.CompileValid(PolicyWith(residency)).Streams[0].Purposes[0].Residency;

    [Fact]
    public void A_purpose_without_residency_stays_in_its_origin_region()
    {
        var residency = CompileResidency("");
        Assert.Same(Residency.OriginOnly, residency);
        Assert.True(residency.Allows("eea", "eea", out var safeguard));
        Assert.Equal("none", safeguard);
        Assert.False(residency.Allows("us", "eea", out _));
        Assert.True(residency.Allows("us", "us", out _));
    }

    [Fact]
    public void Scc_lets_a_purpose_reach_a_listed_region_outside_the_origin_and_names_the_safeguard()
    {
        var residency = CompileResidency("""
            "residency": { "regions": ["eea", "us"], "safeguard": "scc" },
            """);
        Assert.Equal(["eea", "us"], residency.Regions);
        Assert.True(residency.Allows("eea", "eea", out var inRegion));
        Assert.Equal("none", inRegion);
        Assert.True(residency.Allows("us", "eea", out var transfer));
        Assert.Equal("scc", transfer);
        Assert.False(residency.Allows("cn", "eea", out _));
    }

    [Fact]
    public void Listed_regions_without_a_safeguard_are_reached_only_from_within_them()
    {
        var residency = CompileResidency("""
            "residency": { "regions": ["eea", "uk"] },
            """);
        Assert.True(residency.Allows("eea", "eea", out _));
        Assert.False(residency.Allows("uk", "eea", out _));
        Assert.True(residency.Allows("uk", "uk", out _));
        // Listed regions are the only destinations: not even the origin region is added when it is not listed.
        Assert.False(residency.Allows("us", "us", out _));
    }

    [Fact]
    public void Adequacy_covers_the_uk_but_never_the_us_or_china()
    {
        var residency = CompileResidency("""
            "residency": { "regions": ["eea", "uk"], "safeguard": "adequacy" },
            """);
        Assert.True(residency.Allows("uk", "eea", out var safeguard));
        Assert.Equal("adequacy", safeguard);

        var compilation = TestPolicies.Compile(PolicyWith("""
            "residency": { "regions": ["eea", "us", "cn"], "safeguard": "adequacy" },
            """));
        Assert.False(compilation.Succeeded);
        Assert.Equal(2, compilation.Errors.Count);
        Assert.All(compilation.Errors, e => Assert.Equal("$.streams.s.purposes.diagnostics.residency.safeguard", e.Path));
        Assert.Contains(compilation.Errors, e => e.Message.Contains("'us'", StringComparison.Ordinal) && e.Message.Contains("no adequacy decision", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Message.Contains("'cn'", StringComparison.Ordinal));
    }

    [Fact]
    public void An_operators_own_region_name_is_accepted()
    {
        var residency = CompileResidency("""
            "residency": { "regions": ["eu-central-1"] },
            """);
        Assert.True(residency.Allows("eu-central-1", "eu-central-1", out _));
    }

    [Fact]
    public void Reports_every_residency_error_at_once_with_its_path()
    {
        var compilation = TestPolicies.Compile(PolicyWith("""
            "residency": { "regions": ["eea", "EEA", "eea", 7], "safeguard": "trust-me", "extra": 1 },
            """));
        Assert.False(compilation.Succeeded);
        var paths = compilation.Errors.Select(e => e.Path).ToList();
        Assert.Contains("$.streams.s.purposes.diagnostics.residency.regions[1]", paths);
        Assert.Contains("$.streams.s.purposes.diagnostics.residency.regions[2]", paths);
        Assert.Contains("$.streams.s.purposes.diagnostics.residency.regions[3]", paths);
        Assert.Contains("$.streams.s.purposes.diagnostics.residency.safeguard", paths);
        Assert.Contains("$.streams.s.purposes.diagnostics.residency.extra", paths);
        Assert.Equal(5, compilation.Errors.Count);
    }

    [Fact]
    public void The_shipped_policy_keeps_an_eea_sites_data_in_the_eea_except_firmware_for_product_improvement_under_scc()
    {
        foreach (var stream in TestPolicies.Default.Streams)
        {
            foreach (var purpose in stream.Purposes)
            {
                Assert.True(purpose.Residency.Allows("eea", "eea", out _), $"{stream.Name}/{purpose.Purpose}");
                Assert.False(purpose.Residency.Allows("cn", "eea", out _), $"{stream.Name}/{purpose.Purpose}");
                var toUs = purpose.Residency.Allows("us", "eea", out var safeguard);
                Assert.Equal(stream.Name == "firmware" && purpose.Purpose == Vocabulary.Purpose.ProductImprovement, toUs);
                if (toUs)
                {
                    Assert.Equal("scc", safeguard);
                }
            }
        }
    }

    [Fact]
    public void Empty_or_missing_regions_are_errors()
    {
        var empty = TestPolicies.Compile(PolicyWith("""
            "residency": { "regions": [] },
            """));
        Assert.Equal("$.streams.s.purposes.diagnostics.residency.regions", Assert.Single(empty.Errors).Path);
        var missing = TestPolicies.Compile(PolicyWith("""
            "residency": { "safeguard": "scc" },
            """));
        Assert.Equal("$.streams.s.purposes.diagnostics.residency.regions", Assert.Single(missing.Errors).Path);
    }
}
