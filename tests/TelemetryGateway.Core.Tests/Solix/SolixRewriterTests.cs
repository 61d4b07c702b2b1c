using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>What the SOLIX rewriter keeps, drops and pseudonymizes, per purpose, on messages built for each case.</summary>
public sealed class SolixRewriterTests
{
    private const string Serial = "CUTUTT17MUSXAJ4R";
    private const string SubSerial = "AZVBYM0E01300886";

    public static TheoryData<Segmentation> All => Segments.All;

    /// <summary>A policy with one SOLIX stream, <c>s/{pn}/{sn}</c>: after-sales (serial clear) and product-improvement.</summary>
    private static CompiledPolicy Policy(string improvement, string service = """{ "serial": "keep", "messages": {}, "unknownMessages": "keep", "unknownFields": "keep" }""") =>
        TestPolicies.CompileValid($$"""
        {
          "id": "solix-test", "version": "1",
          "streams": {
            "solix": {
              "topic": "s/{pn}/{sn}", "format": "solix", "device": "sn", "categories": ["device"],
              "purposes": {
                "after-sales-service": {
                  "legalBasis": "contract", "retention": "P1Y", "topic": "out/{pn}/{sn}",
                  "captures": { "pn": "keep", "sn": "keep" }, "solix": {{service}}
                },
                "product-improvement": {
                  "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "out/{pn}/{sn}",
                  "captures": { "pn": "keep", "sn": "pseudonymize-same-length" }, "solix": {{improvement}}
                }
              }
            }
          }
        }
        """);

    private static (MinimizationResult Result, List<SolixOutput> Outputs) Run(CompiledPolicy policy, byte[] binary, Segmentation segmentation, string productCode = "A17C0")
    {
        var (result, outputs) = MinimizerRun.Run(policy, $"s/{productCode}/{Serial}", SolixMessages.Envelope(binary, Serial, productCode), segmentation);
        Assert.False(result.IsQuarantined, result.QuarantineReason.Id());
        return (result, outputs.Select(SolixMessages.Decode).ToList());
    }

    private static bool Has(byte[] binary, string text) => binary.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;

    [Theory]
    [MemberData(nameof(All))]
    public void Wifi_name_field_is_removed_for_every_purpose(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xA3, "Home-Net"), SolixMessages.Field(0xA4, 0x01, [0x64]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0407": "*" } }""", """{ "serial": "keep", "messages": { "0407": "*" }, "unknownFields": "keep" }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        Assert.Equal(2, outputs.Count);
        Assert.All(outputs, o => Assert.Equal([0xA2, 0xA4], SolixMessages.AssertValid(o.Binary, 0x0407, o.Purpose)));
        Assert.All(outputs, o => Assert.False(Has(o.Binary, "Home-Net")));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Mac_field_is_removed_for_every_purpose(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0405, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xC0, SubSerial), SolixMessages.StringField(0xC1, "0A1B2C3D4E5F"));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0405": "*" } }""", """{ "serial": "keep", "messages": { "0405": "*" } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        Assert.All(outputs, o => Assert.Equal([0xA2, 0xC0], SolixMessages.AssertValid(o.Binary, 0x0405, o.Purpose)));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Sub_device_serial_field_gets_a_same_length_pseudonym_where_serials_are_pseudonymized(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0405, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xC0, SubSerial));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0405": ["device_sn", "0w_switch_sn"] } }""", """{ "serial": "keep", "messages": { "0405": "*" } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.False(Has(improvement.Binary, SubSerial));
        Assert.False(Has(improvement.Binary, Serial));
        Assert.Equal(binary.Length, improvement.Binary.Length);
        Assert.True(Has(outputs.Single(o => o.Purpose == "after-sales-service").Binary, SubSerial));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Serial_at_a_mapped_offset_of_a_mixed_field_keeps_its_length_and_offset(Segmentation segmentation)
    {
        // A1790 040a a4: a type-06 value with the expansion's serial at offset 0 (16 bytes), then more values.
        byte[] value = [.. Encoding.ASCII.GetBytes("9Z8Y7X6W5V4U3T2S"), 0x00, 0x00, 0x00, 0x19, 0x00, 0x50];
        var binary = SolixMessages.Binary(0x040A, SolixMessages.Field(0xA2, 0x01, [0x01]), SolixMessages.Field(0xA4, 0x06, value));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "040a": ["expansion_packs", "exp_1_sn"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation, productCode: "A1790");

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal(binary.Length, improvement.Binary.Length);
        Assert.False(Has(improvement.Binary, "9Z8Y7X6W5V4U3T2S"));
        // Everything after the serial inside the field is where it was.
        Assert.Equal(binary[^7..^1], improvement.Binary[^7..^1]);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Length_prefixed_serial_inside_a_mixed_field_is_pseudonymized_in_place(Segmentation segmentation)
    {
        // A1763 0421 a2: a type-06 value with a length byte at offset 1 and the serial after it, then the product code.
        byte[] value = [0x20, 0x11, .. Encoding.ASCII.GetBytes("9Z8Y7X6W5V4U3T2S1"), 0x00, 0x05, .. Encoding.ASCII.GetBytes("A1763")];
        var binary = SolixMessages.Binary(0x0421, [0xA1, 0x01, 0x34], SolixMessages.Field(0xA2, 0x06, value));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0421": ["device_sn"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation, productCode: "A1763");

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal([0xA2], SolixMessages.AssertValid(improvement.Binary, 0x0421, "product-improvement"));
        Assert.False(Has(improvement.Binary, "9Z8Y7X6W5V4U3T2S1"));
        Assert.True(Has(improvement.Binary, "A1763"));
        Assert.Equal(binary.Length - 3, improvement.Binary.Length);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Device_serial_anywhere_in_a_kept_field_becomes_the_topic_pseudonym(Segmentation segmentation)
    {
        // The serial at an offset no map names, inside a mixed field; and the same device's pseudonym in the topic.
        byte[] value = [0x02, 0x10, .. Encoding.ASCII.GetBytes(Serial), 0x05];
        var binary = SolixMessages.Binary(0x040A, SolixMessages.Field(0xA2, 0x06, value));
        var policy = Policy("""{ "serial": "pseudonymize", "head": ["client_id"], "payload": ["sn"], "messages": { "040a": ["expansion_packs"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation, productCode: "A1790");

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        var pseudonym = improvement.Topic.Split('/')[2];
        Assert.Equal(Serial.Length, pseudonym.Length);
        Assert.Equal(pseudonym, improvement.ClientId);
        Assert.Equal(pseudonym, improvement.Sn);
        Assert.Equal(Encoding.ASCII.GetBytes(pseudonym), improvement.Binary[14..30]);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unknown_message_type_is_withheld_for_product_improvement_and_forwarded_for_after_sales(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0999, SolixMessages.Field(0xA2, 0x01, [0x07]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0405": "*" } }""");
        var improvement = policy.Streams[0].Purposes.Single(p => p.Purpose == Vocabulary.Purpose.ProductImprovement);
        var withheldBefore = improvement.Counters[ProcessingAction.Withheld];

        var (result, outputs) = Run(policy, binary, segmentation);

        Assert.Equal("after-sales-service", Assert.Single(outputs).Purpose);
        Assert.Equal(withheldBefore + 1, improvement.Counters[ProcessingAction.Withheld]);
        Assert.False(result.IsQuarantined);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Message_of_a_model_the_map_does_not_know_is_withheld_for_product_improvement(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.Field(0xA4, 0x01, [0x64]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0407": "*" } }""");

        var (_, outputs) = Run(policy, binary, segmentation, productCode: "Z9999");

        Assert.Equal("after-sales-service", Assert.Single(outputs).Purpose);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Wifi_name_of_an_unknown_model_is_removed_for_after_sales(Segmentation segmentation)
    {
        // The field byte is a Wi-Fi name on every model that has it, so it is treated as one here too.
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xA3, "Home-Net"), SolixMessages.Field(0xA4, 0x01, [0x64]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": {} }""");

        var (_, outputs) = Run(policy, binary, segmentation, productCode: "Z9999");

        var service = Assert.Single(outputs);
        Assert.Equal([0xA2, 0xA4], SolixMessages.AssertValid(service.Binary, 0x0407, "after-sales"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unknown_text_field_is_dropped_and_unknown_number_kept_for_after_sales(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xE1, "Garden"), SolixMessages.Field(0xE2, 0x01, [0x09]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0407": "*" } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var service = outputs.Single(o => o.Purpose == "after-sales-service");
        Assert.Equal([0xA2, 0xE2], SolixMessages.AssertValid(service.Binary, 0x0407, "after-sales"));
        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal([0xA2], SolixMessages.AssertValid(improvement.Binary, 0x0407, "product-improvement"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Mac_written_as_text_inside_a_kept_field_is_pseudonymized_for_after_sales(Segmentation segmentation)
    {
        byte[] value = [0x01, .. Encoding.ASCII.GetBytes("0a:1b:2c:3d:4e:5f"), 0x00];
        var binary = SolixMessages.Binary(0x0407, [0xA1, 0x01, 0x32], SolixMessages.Field(0xE3, 0x06, value));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": {} }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var service = Assert.Single(outputs);
        Assert.Equal(binary.Length, service.Binary.Length);
        Assert.False(Has(service.Binary, "0a:1b:2c:3d:4e:5f"));
        Assert.False(CanaryScanner.Contains(service.Binary, "0A1B2C3D4E5F"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Pattern_byte_comes_back_when_the_first_kept_field_could_be_read_as_an_increment_byte(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0405, [0xA1, 0x01, 0x34], SolixMessages.StringField(0xA2, Serial), SolixMessages.Field(0xB4, 0x01, [0x0A]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0405": ["output_cutoff_data"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal([0xA1, 0xB4], SolixMessages.AssertValid(improvement.Binary, 0x0405, "product-improvement"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Output_that_would_be_misread_without_a_pattern_byte_is_withheld(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0405, SolixMessages.StringField(0xA2, Serial), SolixMessages.Field(0xB4, 0x01, [0x0A]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0405": ["output_cutoff_data"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        Assert.Equal("after-sales-service", Assert.Single(outputs).Purpose);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unknown_text_that_is_a_bare_number_is_dropped_for_after_sales(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.StringField(0xE1, "001122334455"));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": {} }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        Assert.Equal([0xA2], SolixMessages.AssertValid(Assert.Single(outputs).Binary, 0x0407, "after-sales"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Fields_are_kept_by_field_byte_or_by_map_name(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.StringField(0xA2, Serial), SolixMessages.Field(0xA4, 0x01, [0x64]), SolixMessages.Field(0xA5, 0x01, [0x01]));
        var policy = Policy("""{ "serial": "pseudonymize", "messages": { "0407": ["a4", "charging_status"] } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal([0xA4, 0xA5], SolixMessages.AssertValid(improvement.Binary, 0x0407, "product-improvement"));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Head_and_payload_keep_only_the_named_fields(Segmentation segmentation)
    {
        var binary = SolixMessages.Binary(0x0407, SolixMessages.Field(0xA4, 0x01, [0x64]));
        var policy = Policy("""{ "serial": "pseudonymize", "head": ["msg_seq", "timestamp"], "payload": ["pn"], "messages": { "0407": "*" } }""");

        var (_, outputs) = Run(policy, binary, segmentation);

        var improvement = outputs.Single(o => o.Purpose == "product-improvement");
        Assert.Equal(["msg_seq", "timestamp"], improvement.Head.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["data", "pn"], improvement.Payload.EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Trans_payload_is_not_forwarded_for_any_purpose(Segmentation segmentation)
    {
        var trans = Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"sn\":\"" + Serial + "\"}"));
        var envelope = SolixMessages.Envelope("{\"trans\":\"" + trans + "\",\"sn\":\"" + Serial + "\",\"pn\":\"A17C0\"}", Serial);

        var (result, outputs) = MinimizerRun.Run(Policy("""{ "serial": "pseudonymize", "messages": {} }"""), $"s/A17C0/{Serial}", envelope, segmentation);

        Assert.False(result.IsQuarantined);
        Assert.Empty(outputs);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Increment_byte_and_untyped_fields_survive_the_rewrite(Segmentation segmentation)
    {
        var message = SolixMessages.Corpus.First(m => SolixMessages.TypeOf(m) == "0830");
        var input = SolixMessages.BinaryOf(message.Payload);

        var outputs = SolixMessages.Outputs(TestPolicies.Default, message, segmentation, out _);

        Assert.All(outputs, o => Assert.Equal(input, o.Binary));
    }
}
