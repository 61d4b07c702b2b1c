using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Policy;

public sealed class PolicyCompilerTests
{
    private const string Valid = """
        {
          "id": "p", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}", "categories": ["device"],
              "purposes": {
                "diagnostics": { "legalBasis": "legitimate-interest", "retention": "P30D", "topic": "o/{sn}",
                                 "captures": { "sn": "pseudonymize" }, "fields": { "a": "keep" } }
              }
            }
          }
        }
        """;

    [Fact]
    public void Compiles_the_shipped_default_policy()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        Assert.Equal(["solix-param-info", "solix-state-info", "status", "firmware", "network", "log", "settings", "installation-photos", "commissioning"], policy.Streams.Select(s => s.Name));
        Assert.Matches("^solix-default@1\\+sha256\\.[0-9a-f]{12}$", policy.Tag);
    }

    [Fact]
    public void Default_policy_forwards_no_command_or_unknown_topic()
    {
        var policy = TestPolicies.Default;
        var captures = new Range[8];
        foreach (var topic in new[]
        {
            "cmd/anker_power/A17C0/SN1/req", "dt/anker_power/A17C0/SN1/unknown", "anything/else",
        })
        {
            Assert.Null(policy.Match(topic, captures));
        }
    }

    [Fact]
    public void Default_policy_routes_solix_binary_topics_to_the_solix_format()
    {
        var captures = new Range[8];
        foreach (var topic in new[] { "dt/anker_power/A17C0/SN1/param_info", "dt/anker_power/A17C0/SN1/state_info" })
        {
            Assert.Equal(PayloadFormat.Solix, TestPolicies.Default.Match(topic, captures)?.Format);
        }
    }

    [Fact]
    public void Version_carries_a_content_hash_of_the_file()
    {
        var a = TestPolicies.CompileValid(Valid);
        var b = TestPolicies.CompileValid(Valid.Replace("P30D", "P31D", StringComparison.Ordinal));
        Assert.StartsWith("1+sha256.", a.Version, StringComparison.Ordinal);
        Assert.NotEqual(a.Version, b.Version);
    }

    [Fact]
    public void Reports_every_error_with_its_json_path()
    {
        var compilation = TestPolicies.Compile("""
            {
              "id": "p", "version": "1",
              "streams": {
                "s": {
                  "topic": "t/#/x", "categories": ["device", "wifi"],
                  "purposes": {
                    "advertising": { "legalBasis": "consent", "retention": "P1D", "topic": "o", "fields": {} },
                    "marketing": { "legalBasis": "legitimate-interest", "retention": "P1D", "topic": "o", "fields": {} },
                    "diagnostics": { "legalBasis": "hunch", "retention": "forever", "topic": "o/+", "fields": { "a": "shred", "b": { "transform": "truncate-ip", "decimals": 2 } } },
                    "security": { "legalBasis": "legitimate-interest", "topic": "o", "fields": {} }
                  }
                }
              }
            }
            """);
        Assert.False(compilation.Succeeded);
        var errors = compilation.Errors.Select(e => e.Path).ToList();
        Assert.Contains("$.streams.s.topic", errors);
        Assert.Contains("$.streams.s.categories[1]", errors);
        Assert.Contains("$.streams.s.purposes.advertising", errors);
        Assert.Contains("$.streams.s.purposes.marketing.legalBasis", errors);
        Assert.Contains("$.streams.s.purposes.diagnostics.legalBasis", errors);
        Assert.Contains("$.streams.s.purposes.diagnostics.retention", errors);
        Assert.Contains("$.streams.s.purposes.diagnostics.fields.a", errors);
        Assert.Contains("$.streams.s.purposes.diagnostics.fields.b.decimals", errors);
        Assert.Contains("$.streams.s.purposes.security.retention", errors);
        Assert.True(compilation.Errors.Count >= 9);
    }

    [Fact]
    public void Rejects_a_non_consent_basis_for_a_consent_based_purpose()
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"diagnostics\": { \"legalBasis\": \"legitimate-interest\"", "\"personalization\": { \"legalBasis\": \"legitimate-interest\"", StringComparison.Ordinal));
        var error = Assert.Single(compilation.Errors);
        Assert.Equal("$.streams.s.purposes.personalization.legalBasis", error.Path);
        Assert.Contains("consent-based", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_duplicate_stream_name()
    {
        var compilation = TestPolicies.Compile("""
            { "id": "p", "version": "1", "streams": {
              "s": { "topic": "a/{sn}", "categories": ["device"], "purposes": { "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} } } },
              "s": { "topic": "b/{sn}", "categories": ["device"], "purposes": { "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} } } } } }
            """);
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s" && e.Message.Contains("duplicate stream", StringComparison.Ordinal));
    }

    [Fact]
    public void Rejects_a_stream_property_of_another_format()
    {
        var compilation = TestPolicies.Compile("""
            { "id": "p", "version": "1", "streams": {
              "s": { "topic": "a/{sn}", "message": "telemetry.v1.DeviceStatus", "categories": ["device"],
                     "purposes": { "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} } } } } }
            """);
        var error = Assert.Single(compilation.Errors);
        Assert.Equal("$.streams.s.message", error.Path);
        Assert.Equal("applies to format 'protobuf' only; this stream's format is 'json'", error.Message);
    }

    [Fact]
    public void Rejects_a_topic_that_keeps_the_serial_a_solix_purpose_pseudonymizes()
    {
        var compilation = TestPolicies.Compile("""
            { "id": "p", "version": "1", "streams": {
              "s": { "topic": "s/{pn}/{sn}", "format": "solix", "device": "sn", "categories": ["device"],
                     "purposes": { "product-improvement": { "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "out/{pn}/{sn}",
                       "captures": { "pn": "keep", "sn": "keep" }, "solix": { "serial": "pseudonymize", "messages": {} } } } } } }
            """);
        var error = Assert.Single(compilation.Errors);
        Assert.Equal("$.streams.s.purposes.product-improvement.captures.sn", error.Path);
        Assert.StartsWith("must be 'pseudonymize-same-length' (or 'drop')", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_two_streams_with_the_same_topic_filter()
    {
        var compilation = TestPolicies.Compile("""
            { "id": "p", "version": "1", "streams": {
              "a": { "topic": "t/{sn}", "categories": ["device"], "purposes": { "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} } } },
              "b": { "topic": "t/{sn}", "categories": ["device"], "purposes": { "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} } } } } }
            """);
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.b.topic");
    }

    [Fact]
    public void Rejects_an_output_topic_capture_without_a_rule_or_unknown_to_the_filter()
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"topic\": \"o/{sn}\"", "\"topic\": \"o/{sn}/{pn}\"", StringComparison.Ordinal)
            .Replace("\"captures\": { \"sn\": \"pseudonymize\" }", "\"captures\": { }", StringComparison.Ordinal));
        Assert.Equal(2, compilation.Errors.Count(e => e.Path == "$.streams.s.purposes.diagnostics.topic"));
    }

    [Theory]
    [InlineData("coarsen-coordinates")]
    [InlineData("truncate-ip")]
    [InlineData("generalize-geo")]
    [InlineData("redact-text")]
    public void Rejects_a_transform_a_topic_level_cannot_take(string transform)
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"sn\": \"pseudonymize\"", $"\"sn\": \"{transform}\"", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.captures.sn");
    }

    [Fact]
    public void Rejects_a_transform_combined_with_fields()
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"a\": \"keep\"", "\"a\": { \"transform\": \"pseudonymize\", \"fields\": {} }", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.fields.a");
    }

    [Theory]
    [InlineData("\"ipv4Prefix\": 33", "ipv4Prefix")]
    [InlineData("\"ipv6Prefix\": -1", "ipv6Prefix")]
    public void Rejects_a_parameter_out_of_range(string parameter, string name)
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"a\": \"keep\"", $"\"a\": {{ \"transform\": \"truncate-ip\", {parameter} }}", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == $"$.streams.s.purposes.diagnostics.fields.a.{name}");
    }

    [Fact]
    public void Rejects_an_unknown_payload_format()
    {
        var compilation = TestPolicies.Compile(Valid.Replace("\"topic\": \"t/{sn}\"", "\"topic\": \"t/{sn}\", \"format\": \"xml\"", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.format");
    }

    [Fact]
    public void Rejects_unknown_properties_and_invalid_json()
    {
        Assert.Contains(TestPolicies.Compile(Valid.Replace("\"id\": \"p\"", "\"id\": \"p\", \"strems\": {}", StringComparison.Ordinal)).Errors, e => e.Path == "$.strems");
        Assert.Equal("$", Assert.Single(TestPolicies.Compile("{ not json").Errors).Path);
    }

    [Fact]
    public void Requires_categories_and_at_least_one_purpose()
    {
        var compilation = TestPolicies.Compile("""
            { "id": "p", "version": "1", "streams": { "s": { "topic": "t/{sn}", "purposes": {} } } }
            """);
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.categories");
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes");
    }
    private const string TextStream = """
        {
          "id": "p", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}/log", "format": "text", "categories": ["usage"],
              "purposes": {
                "diagnostics": { "legalBasis": "legitimate-interest", "retention": "P30D", "topic": "o/{sn}",
                                 "captures": { "sn": "pseudonymize" }, TEXT }
              }
            }
          }
        }
        """;

    [Fact]
    public void Compiles_the_text_rules_of_a_log_purpose()
    {
        var policy = TestPolicies.CompileValid(TextStream.Replace("TEXT", "\"text\": { \"serial\": \"drop\", \"ipv4PrefixLength\": 16, \"decimals\": 2 }", StringComparison.Ordinal));
        var stream = Assert.Single(policy.Streams);
        Assert.Equal(PayloadFormat.Text, stream.Format);
        var rules = Assert.IsType<LogScrubRules>(stream.PurposeArray[0].Rules);
        Assert.Equal(SerialHandling.Drop, rules.Serial);
        Assert.Equal(16, rules.Ipv4PrefixLength);
        Assert.Equal(48, rules.Ipv6PrefixLength);
        Assert.Equal(2, rules.CoordinateDecimals);
    }

    [Fact]
    public void Reports_every_error_in_the_text_rules_of_a_log_purpose()
    {
        var compilation = TestPolicies.Compile(TextStream.Replace(
            "TEXT", "\"text\": { \"serial\": \"show\", \"ipv6PrefixLength\": 129, \"psk\": \"keep\" }, \"fields\": {}", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.text.serial");
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.text.ipv6PrefixLength");
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.text.psk");
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.diagnostics.fields");
    }
}
