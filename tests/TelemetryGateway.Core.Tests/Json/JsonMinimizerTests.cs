using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Json;

/// <summary>The JSON rewriter, on single-segment, multi-segment and one-byte-per-segment input.</summary>
public sealed class JsonMinimizerTests
{
    public static TheoryData<Segmentation> Inputs => Segments.All;

    [Theory, MemberData(nameof(Inputs))]
    public void Drops_fields_the_policy_does_not_name(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep" }""");
        Assert.Equal("""{"a":1}""", MinimizerRun.OnlyOutput(policy, """{"a":1,"b":"secret","c":{"d":[1,2]}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Keeps_scalars_of_every_type_verbatim(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "s": "keep", "n": "keep", "t": "keep", "f": "keep", "z": "keep", "e": "keep" }""");
        Assert.Equal(
            """{"s":"x\"y","n":-1.5e3,"t":true,"f":false,"z":null,"e":"Linköping"}""",
            MinimizerRun.OnlyOutput(policy, """{"s":"x\"y","n":-1.5e3,"t":true,"f":false,"z":null,"e":"Link\u00f6ping"}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Keep_on_an_object_copies_the_whole_subtree(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "o": "keep" }""");
        Assert.Equal("""{"o":{"a":[1,{"b":null}],"c":"d"}}""", MinimizerRun.OnlyOutput(policy, """{"o":{"a":[1,{"b":null}],"c":"d"},"x":2}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Drops_wifi_password_in_nested_object(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "wifi": { "fields": { "rssi": "keep", "password": "drop" } } }""");
        Assert.Equal("""{"wifi":{"rssi":-40}}""", MinimizerRun.OnlyOutput(policy, """{"wifi":{"ssid":"Home","password":"hunter2","rssi":-40}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Applies_field_rules_to_every_object_of_an_array(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "schedule": { "fields": { "mode": "keep" } } }""");
        Assert.Equal(
            """{"schedule":[{"mode":"charge"},{"mode":"idle"},{}]}""",
            MinimizerRun.OnlyOutput(policy, """{"schedule":[{"mode":"charge","who":"x"},{"mode":"idle"},{"who":"y"}]}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Applies_a_scalar_transform_to_every_element_of_an_array(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "ips": "truncate-ip" }""");
        Assert.Equal("""{"ips":["81.2.69.0","2001:218:85a3::"]}""", MinimizerRun.OnlyOutput(policy, """{"ips":["81.2.69.142","2001:218:85a3::8a2e:370:7334"]}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Pseudonymizes_with_the_key_id_prefix_and_the_same_output_for_the_same_input(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "pseudonymize", "b": "pseudonymize", "c": "pseudonymize" }""");
        var json = MinimizerRun.OnlyOutput(policy, """{"a":"WK1DEGZD8PCF32ER","b":"WK1DEGZD8PCF32ER","c":"other"}""", input);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var a = document.RootElement.GetProperty("a").GetString()!;
        Assert.StartsWith(TestPolicies.Key.Id + ".", a, StringComparison.Ordinal);
        Assert.Equal(a, document.RootElement.GetProperty("b").GetString());
        Assert.NotEqual(a, document.RootElement.GetProperty("c").GetString());
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", json, StringComparison.OrdinalIgnoreCase);
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Pseudonymizes_an_escaped_value_like_its_unescaped_form(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "pseudonymize", "b": "pseudonymize" }""");
        using var document = System.Text.Json.JsonDocument.Parse(MinimizerRun.OnlyOutput(policy, """{"a":"AB","b":"\u0041\u0042"}""", input));
        Assert.Equal(document.RootElement.GetProperty("a").GetString(), document.RootElement.GetProperty("b").GetString());
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Coarsens_coordinate_numbers_and_pairs(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "lat": "coarsen-coordinates", "pos": "coarsen-coordinates", "lon": { "transform": "coarsen-coordinates", "decimals": 2 } }""");
        Assert.Equal(
            """{"lat":48.1,"pos":"48.1,11.6","lon":11.58}""",
            MinimizerRun.OnlyOutput(policy, """{"lat":48.137361,"pos":"48.137361, 11.575465","lon":11.575465}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Truncates_geohash_to_its_length(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "g": "geohash", "h": { "transform": "geohash", "length": 3 } }""");
        Assert.Equal("""{"g":"u281","h":"u28"}""", MinimizerRun.OnlyOutput(policy, """{"g":"u281zzzzzz","h":"48.137361,11.575465"}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Generalizes_ip_geography_to_country_and_region(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "geo": "generalize-geo" }""");
        Assert.Equal(
            """{"geo":{"country":"JP","region":"13"}}""",
            MinimizerRun.OnlyOutput(policy, """{"geo":{"country":"JP","region":"13","city":"Tokyo","postal":"100-0001","lat":35.6,"lon":139.7,"location":{"x":1}}}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Truncates_ip_with_configured_prefixes(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "ip": { "transform": "truncate-ip", "ipv4Prefix": 16 }, "url": "truncate-ip" }""");
        Assert.Equal(
            """{"ip":"81.2.0.0","url":"https://81.2.69.0:8443/api"}""",
            MinimizerRun.OnlyOutput(policy, """{"ip":"81.2.69.142","url":"https://user:pw@81.2.69.142:8443/api?token=abc"}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Drops_a_value_whose_type_its_transform_cannot_take(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "ip": "truncate-ip", "lat": "coarsen-coordinates", "geo": "generalize-geo", "o": { "fields": { "a": "keep" } }, "k": "keep" }""");
        Assert.Equal(
            """{"k":1}""",
            MinimizerRun.OnlyOutput(policy, """{"ip":"not-an-ip","lat":{"v":48.1},"geo":"JP","o":"flat","k":1}""", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Redacts_secrets_in_free_text(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "note": "redact-text" }""");
        var json = MinimizerRun.OnlyOutput(policy, """{"note":"psk=hunter4657!x mail li.wei@example.net"}""", input);
        Assert.DoesNotContain("hunter4657", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("li.wei@example.net", json, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("psk=", json, StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_truncated_json(Segmentation input) =>
        Assert.Equal(QuarantineReason.MalformedJson, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), """{"a":1,"b":{"c":""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_trailing_content_after_the_object(Segmentation input) =>
        Assert.Equal(QuarantineReason.MalformedJson, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), """{"a":1} {"a":2}""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_invalid_utf8_in_a_dropped_string(Segmentation input)
    {
        byte[] payload = [.. """{"a":1,"b":"x"""u8, 0xFF, 0xFE, .. "\"}"u8];
        Assert.Equal(QuarantineReason.InvalidUtf8, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), payload, input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_an_escaped_lone_surrogate(Segmentation input) =>
        Assert.Equal(QuarantineReason.InvalidUtf8, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), """{"a":"\ud800"}""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_nesting_deeper_than_the_limit(Segmentation input)
    {
        var payload = "{\"a\":" + string.Concat(Enumerable.Repeat("[", 40)) + string.Concat(Enumerable.Repeat("]", 40)) + "}";
        Assert.Equal(QuarantineReason.DepthExceeded, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), payload, input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_a_duplicate_of_a_key_the_policy_names(Segmentation input) =>
        Assert.Equal(
            QuarantineReason.DuplicateKey,
            MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "w": { "fields": { "ssid": "drop", "rssi": "keep" } } }"""), """{"w":{"ssid":"a","ssid":"b","rssi":1}}""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Tolerates_a_duplicate_of_a_key_the_policy_does_not_name(Segmentation input) =>
        Assert.Equal("""{"a":1}""", MinimizerRun.OnlyOutput(TestPolicies.WithFields("""{ "a": "keep" }"""), """{"a":1,"x":1,"x":2}""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_a_payload_that_is_not_an_object(Segmentation input)
    {
        var policy = TestPolicies.WithFields("""{ "a": "keep" }""");
        Assert.Equal(QuarantineReason.NotAnObject, MinimizerRun.Quarantine(policy, """["a"]""", input));
        Assert.Equal(QuarantineReason.NotAnObject, MinimizerRun.Quarantine(policy, "\"text\"", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_an_empty_payload(Segmentation input) =>
        Assert.Equal(QuarantineReason.Empty, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), "", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_a_whitespace_only_payload(Segmentation input) =>
        Assert.Equal(QuarantineReason.MalformedJson, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), "  ", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_a_payload_over_the_size_limit(Segmentation input)
    {
        var policy = TestPolicies.CompileValid("""
            { "id": "t", "version": "1", "limits": { "maxPayloadBytes": 64 },
              "streams": { "s": { "topic": "t/{sn}", "categories": ["device"], "purposes": { "diagnostics": {
                "legalBasis": "legitimate-interest", "retention": "P1D", "topic": "o", "fields": { "a": "keep" } } } } } }
            """);
        Assert.Equal(QuarantineReason.TooLarge, MinimizerRun.Quarantine(policy, "{\"a\":\"" + new string('x', 80) + "\"}", input));
    }

    [Theory, MemberData(nameof(Inputs))]
    public void Quarantines_comments(Segmentation input) =>
        Assert.Equal(QuarantineReason.MalformedJson, MinimizerRun.Quarantine(TestPolicies.WithFields("""{ "a": "keep" }"""), """{"a":1 /* x */}""", input));

    [Theory, MemberData(nameof(Inputs))]
    public void Writes_one_output_per_purpose_with_its_own_minimization(Segmentation input)
    {
        var (result, outputs) = MinimizerRun.Run(
            TestPolicies.Default, "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/firmware",
            """{"sn":"WK1DEGZD8PCF32ER","pn":"A17C0","hw_version":"v1","sw_version":"v2","ota_version":"v3"}""", input);
        Assert.False(result.IsQuarantined);
        Assert.Equal(["after-sales-service", "product-improvement", "safety-recall"], outputs.Select(o => o.Purpose));
        Assert.Equal("WK1DEGZD8PCF32ER", outputs[0].Json.GetProperty("sn").GetString());
        Assert.Equal("dt/anker_power/A17C0/WK1DEGZD8PCF32ER/firmware", outputs[0].Topic);
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", outputs[1].Payload, StringComparison.Ordinal);
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", outputs[1].Topic, StringComparison.Ordinal);
        Assert.Equal(outputs[1].Json.GetProperty("sn").GetString(), outputs[1].Topic.Split('/')[3]);
        Assert.False(outputs[2].Json.TryGetProperty("ota_version", out _));
    }

    [Fact]
    public void Does_not_forward_a_topic_no_stream_matches()
    {
        var (result, outputs) = MinimizerRun.Run(TestPolicies.Default, "cmd/anker_power/A17C0/SN/req", """{"ssid":"x"}""", Segmentation.SingleSegment);
        Assert.False(result.IsMatched);
        Assert.Empty(outputs);
    }

    [Fact]
    public void Forwards_a_consent_based_purpose_only_with_consent_on_record()
    {
        var policy = TestPolicies.Default;
        const string topic = "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/settings";
        var payload = System.Text.Encoding.UTF8.GetBytes("""{"sn":"WK1DEGZD8PCF32ER","language":"fr","username":"li42"}""");

        using var without = new Minimizer(policy, TestPolicies.Key);
        Assert.Equal(0, without.Minimize(topic, new System.Buffers.ReadOnlySequence<byte>(payload)).Outputs.Length);

        using var with = new Minimizer(policy, TestPolicies.Key, new ConsentFor("WK1DEGZD8PCF32ER"));
        var output = Assert.Single(with.Minimize(topic, new System.Buffers.ReadOnlySequence<byte>(payload)).Outputs.ToArray());
        Assert.Equal(Vocabulary.Purpose.Personalization, output.Tags.Purpose);
        Assert.Equal(Vocabulary.LegalBasis.Consent, output.Tags.LegalBasis);
        Assert.DoesNotContain("li42", System.Text.Encoding.UTF8.GetString(output.Payload.Span), StringComparison.Ordinal);
    }

    private sealed class ConsentFor(string device) : IConsentRegistry
    {
        public bool HasConsent(Vocabulary.Purpose purpose, ReadOnlySpan<char> candidate) => candidate.SequenceEqual(device);
    }
}
