using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>The policy's <c>solix</c> rules: what the compiler accepts, and every error with its path.</summary>
public sealed class SolixRulesTests
{
    private static List<string> Errors(string purpose, string solix, string serialCapture = "pseudonymize-same-length")
    {
        var compilation = TestPolicies.Compile($$"""
            {
              "id": "solix-test", "version": "1",
              "streams": {
                "solix": {
                  "topic": "s/{pn}/{sn}", "format": "solix", "device": "sn", "categories": ["device"],
                  "purposes": {
                    "{{purpose}}": {
                      "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "out/{pn}/{sn}",
                      "captures": { "pn": "keep", "sn": "{{serialCapture}}" }, "solix": {{solix}}
                    }
                  }
                }
              }
            }
            """);
        return compilation.Errors.Select(e => e.ToString()).ToList();
    }

    [Fact]
    public void Shipped_policy_compiles_with_its_solix_streams()
    {
        Assert.Contains(TestPolicies.Default.Streams, s => s.Name == "solix-param-info" && s.Format == Core.Policy.PayloadFormat.Solix);
        Assert.Contains(TestPolicies.Default.Streams, s => s.Name == "solix-state-info" && s.Format == Core.Policy.PayloadFormat.Solix);
    }

    [Fact]
    public void Rules_naming_map_fields_by_byte_and_name_compile()
    {
        Assert.Empty(Errors("product-improvement", """{ "serial": "pseudonymize", "head": ["client_id"], "payload": ["sn", "pn"], "messages": { "0407": ["a2", "wifi_signal"], "0405": "*" } }"""));
    }

    [Fact]
    public void Clear_serial_is_rejected_for_a_purpose_other_than_service()
    {
        var error = Assert.Single(Errors("product-improvement", """{ "serial": "keep" }"""));
        Assert.Contains("solix.serial", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_fields_and_messages_are_rejected_for_a_purpose_other_than_service()
    {
        var errors = Errors("product-improvement", """{ "serial": "pseudonymize", "unknownFields": "keep", "unknownMessages": "keep" }""");
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("solix.unknownFields", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("solix.unknownMessages", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_fields_and_clear_serial_are_allowed_for_safety_recall()
    {
        Assert.Empty(Errors("safety-recall", """{ "serial": "keep", "unknownFields": "keep", "unknownMessages": "keep" }"""));
    }

    [Fact]
    public void Message_type_and_fields_outside_the_map_are_each_reported()
    {
        var errors = Errors("product-improvement", """{ "serial": "pseudonymize", "messages": { "0999": "*", "04x7": "*", "0407": ["f1", "no_such_field"] } }""");
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.Contains("messages['0999']", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("messages['04x7']", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("messages['0407'][0]", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("messages['0407'][1]", StringComparison.Ordinal));
    }

    [Fact]
    public void Wifi_name_and_mac_fields_cannot_be_kept()
    {
        var errors = Errors("product-improvement", """{ "serial": "pseudonymize", "messages": { "0407": ["wifi_name"], "0405": ["0w_switch_bt_mac"] } }""");
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("never forwarded", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_serial_treatment_unknown_properties_and_head_fields_are_reported()
    {
        var errors = Errors("product-improvement", """{ "head": ["owner"], "payload": ["account_id"], "extra": 1 }""");
        Assert.Equal(4, errors.Count);
    }

    [Fact]
    public void Solix_stream_purpose_without_solix_rules_is_reported()
    {
        var compilation = TestPolicies.Compile("""
            {
              "id": "solix-test", "version": "1",
              "streams": {
                "solix": {
                  "topic": "s/{sn}", "format": "solix", "categories": ["device"],
                  "purposes": { "diagnostics": { "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "out", "fields": {} } }
                }
              }
            }
            """);
        Assert.False(compilation.Succeeded);
        Assert.Equal(2, compilation.Errors.Count);
    }

    [Fact]
    public void Same_length_pseudonym_is_rejected_for_a_json_field()
    {
        var compilation = TestPolicies.Compile("""
            {
              "id": "t", "version": "1",
              "streams": { "s": { "topic": "t/{sn}", "categories": ["device"], "purposes": { "diagnostics": {
                "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "out", "fields": { "sn": "pseudonymize-same-length" } } } } }
            }
            """);
        Assert.Contains(compilation.Errors, e => e.ToString().Contains("topic captures only", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("keep")]
    [InlineData("pseudonymize")]
    public void Device_capture_must_carry_the_same_length_pseudonym_when_serials_are_pseudonymized(string capture)
    {
        var error = Assert.Single(Errors("product-improvement", """{ "serial": "pseudonymize" }""", capture));
        Assert.Contains("captures.sn", error, StringComparison.Ordinal);
    }
}
