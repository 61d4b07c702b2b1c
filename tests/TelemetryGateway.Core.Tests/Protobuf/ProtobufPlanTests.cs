using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Protobuf;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>Compiling protobuf field rules: names resolved to field numbers, and every misfit reported with its path.</summary>
public sealed class ProtobufPlanTests
{
    private static string Policy(string message, string fieldsJson, string format = "protobuf") => $$"""
        {
          "id": "test", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}", "format": "{{format}}", "message": "{{message}}", "categories": ["device"],
              "purposes": {
                "diagnostics": {
                  "legalBasis": "legitimate-interest", "retention": "P30D", "topic": "out/{sn}",
                  "captures": { "sn": "keep" },
                  "fields": {{fieldsJson}}
                }
              }
            }
          }
        }
        """;

    private static List<string> Errors(string message, string fieldsJson, string format = "protobuf")
    {
        var compilation = TestPolicies.Compile(Policy(message, fieldsJson, format));
        Assert.False(compilation.Succeeded);
        return compilation.Errors.Select(e => e.ToString()).ToList();
    }

    private const string FieldsPath = "$.streams.s.purposes.diagnostics.fields";

    [Fact]
    public void Names_resolve_to_field_numbers_of_the_schema()
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.NetworkInfo", """{ "geo": "generalize-geo", "sn": "pseudonymize" }""");
        var plan = policy.Streams[0].PurposeArray[0].RulesOf<ProtobufRules>().Plan;

        var sn = Array.FindIndex(plan.Schema.Fields, f => f.Number == NetworkInfo.SnFieldNumber);
        var geo = Array.FindIndex(plan.Schema.Fields, f => f.Number == NetworkInfo.GeoFieldNumber);
        var ip = Array.FindIndex(plan.Schema.Fields, f => f.Number == NetworkInfo.IpFieldNumber);
        Assert.Equal((ProtobufAction.Transform, TransformKind.Pseudonymize), (plan.Fields[sn].Action, plan.Fields[sn].Transform));
        Assert.Equal(ProtobufAction.Message, plan.Fields[geo].Action);
        Assert.Equal(ProtobufAction.Drop, plan.Fields[ip].Action);
    }

    [Fact]
    public void Unknown_field_name_is_reported_with_its_path()
    {
        var errors = Errors("telemetry.v1.NetworkInfo", """{ "wifi": { "fields": { "password": "drop" } } }""");

        var error = Assert.Single(errors);
        Assert.StartsWith($"{FieldsPath}.wifi.fields.password: message telemetry.v1.WifiInfo has no field 'password'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_style_camel_case_name_is_not_a_proto_name()
    {
        var errors = Errors("telemetry.v1.DeviceStatus", """{ "batterySoc": "keep" }""");

        Assert.Contains(errors, e => e.StartsWith($"{FieldsPath}.batterySoc:", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_error_of_a_purpose_is_reported_at_once()
    {
        var errors = Errors("telemetry.v1.DeviceStatus", """{ "nope": "keep", "ts": "truncate-ip", "location": { "fields": { "latitude": "redact-text" } } }""");

        Assert.Equal(3, errors.Count);
    }

    [Theory]
    [InlineData("""{ "battery_soc": "pseudonymize" }""", "battery_soc")]
    [InlineData("""{ "temperature_c": "truncate-ip" }""", "temperature_c")]
    [InlineData("""{ "ts": "redact-text" }""", "ts")]
    [InlineData("""{ "error_code": { "transform": "coarsen-coordinates" } }""", "error_code")]
    [InlineData("""{ "sn": "generalize-geo" }""", "sn")]
    [InlineData("""{ "location": "pseudonymize" }""", "location")]
    [InlineData("""{ "location": "truncate-ip" }""", "location")]
    [InlineData("""{ "ts": "geohash" }""", "ts")]
    public void Transform_that_does_not_fit_the_field_type_is_rejected(string fieldsJson, string field)
    {
        var errors = Errors("telemetry.v1.DeviceStatus", fieldsJson);

        Assert.Contains(errors, e => e.StartsWith($"{FieldsPath}.{field}:", StringComparison.Ordinal));
    }

    [Fact]
    public void Nested_fields_on_a_scalar_field_are_rejected()
    {
        var errors = Errors("telemetry.v1.DeviceStatus", """{ "pn": { "fields": { "x": "keep" } } }""");

        Assert.Contains(errors, e => e.StartsWith($"{FieldsPath}.pn.fields: 'fields' applies to message fields", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "sn": "pseudonymize" }""")]
    [InlineData("""{ "entries": { "fields": { "ts": "pseudonymize", "message": "redact-text" } } }""")]
    [InlineData("""{ "entries": "keep" }""")]
    [InlineData("""{ "entries": "drop" }""")]
    public void Transforms_that_fit_compile(string fieldsJson)
    {
        var compilation = TestPolicies.Compile(Policy("telemetry.v1.LogBatch", fieldsJson));

        Assert.True(compilation.Succeeded, string.Join(Environment.NewLine, compilation.Errors));
    }

    [Fact]
    public void Unknown_message_type_is_reported()
    {
        var errors = Errors("telemetry.v1.Nope", """{ "sn": "keep" }""");

        Assert.Contains(errors, e => e.StartsWith("$.streams.s.message: unknown protobuf message 'telemetry.v1.Nope'", StringComparison.Ordinal));
    }

    [Fact]
    public void Protobuf_stream_without_a_message_type_is_rejected()
    {
        var json = Policy("x", """{ "sn": "keep" }""").Replace("\"message\": \"x\", ", "", StringComparison.Ordinal);

        var compilation = TestPolicies.Compile(json);

        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.message");
    }

    [Fact]
    public void Message_type_on_a_json_stream_is_rejected()
    {
        var errors = Errors("telemetry.v1.DeviceStatus", """{ "sn": "keep" }""", format: "json");

        Assert.Contains(errors, e => e.StartsWith("$.streams.s.message: applies to format 'protobuf' only", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_reports_through_the_callback_without_a_policy()
    {
        var fields = TestPolicies.WithFields("""{ "ssid": "keep", "nope": "drop" }""").Streams[0].PurposeArray[0].Fields!;
        var errors = new List<(string Path, string Message)>();

        var plan = ProtobufPlan.Compile(WifiInfo.Descriptor, fields, "$.f", (path, message) => errors.Add((path, message)));

        Assert.Null(plan);
        Assert.Equal("$.f.nope", Assert.Single(errors).Path);
    }

    [Fact]
    public void Sample_policy_validates()
    {
        var compilation = PolicyCompiler.Compile(File.ReadAllBytes(ProtobufSamples.PolicyPath));

        Assert.True(compilation.Succeeded, string.Join(Environment.NewLine, compilation.Errors));
        Assert.All(compilation.Policy!.Streams, s => Assert.Equal(PayloadFormat.Protobuf, s.Format));
    }

    [Fact]
    public void Device_messages_are_found_by_full_name()
    {
        Assert.Same(DeviceStatus.Descriptor, ProtobufMessages.Find("telemetry.v1.DeviceStatus"));
        Assert.Same(LogEntry.Descriptor, ProtobufMessages.Find("telemetry.v1.LogEntry"));
        Assert.Null(ProtobufMessages.Find("telemetry.v1.Envelope"));
    }
}
