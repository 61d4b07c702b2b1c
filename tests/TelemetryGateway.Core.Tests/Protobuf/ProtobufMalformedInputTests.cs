using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>Payloads that are not complete, well-formed messages are quarantined whole, for every purpose.</summary>
public sealed class ProtobufMalformedInputTests
{
    public static TheoryData<Segmentation> All => Segments.All;

    private static CompiledPolicy Policy => ProtobufSamples.Policy;

    private static QuarantineReason Quarantine(string kind, byte[] payload, Segmentation segmentation)
    {
        var outputs = ProtobufSamples.Run(Policy, ProtobufSamples.Topic(kind), payload, segmentation, out var result);
        Assert.Empty(outputs);
        return result.QuarantineReason;
    }

    private static byte[] Status => ProtobufSamples.Status().ToByteArray();

    [Theory]
    [MemberData(nameof(All))]
    public void Truncated_varint_is_quarantined(Segmentation segmentation)
    {
        // Field 3 (ts), a varint whose last byte still says "more follows".
        byte[] payload = [0x18, 0x80, 0x80];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Varint_longer_than_ten_bytes_is_quarantined(Segmentation segmentation)
    {
        byte[] payload = [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Message_cut_short_is_quarantined(Segmentation segmentation)
    {
        var payload = Status[..^3];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Length_overrunning_the_message_is_quarantined(Segmentation segmentation)
    {
        // Field 1 (sn) claims 20 bytes; 3 follow.
        byte[] payload = [0x0A, 20, (byte)'S', (byte)'N', (byte)'1'];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Nested_length_overrunning_its_parent_is_quarantined(Segmentation segmentation)
    {
        // Field 9 (location) of 4 bytes, inside which a double claims 8.
        byte[] payload = [0x4A, 4, 0x09, 0, 0, 0, 0x08, 0x01];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Truncated_fixed64_is_quarantined(Segmentation segmentation)
    {
        // Field 7 (temperature_c), a double with 5 of its 8 bytes.
        byte[] payload = [0x39, 0, 0, 0, 0, 0];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Invalid_wire_type_is_quarantined(Segmentation segmentation)
    {
        foreach (var wireType in new byte[] { 6, 7 })
        {
            byte[] payload = [.. Status, (byte)((12 << 3) | wireType), 0x01];

            Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Group_wire_types_are_quarantined(Segmentation segmentation)
    {
        foreach (var wireType in new byte[] { 3, 4 })
        {
            byte[] payload = [.. Status, (byte)((12 << 3) | wireType)];

            Assert.Equal(QuarantineReason.ProtobufGroup, Quarantine("status", payload, segmentation));
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Field_number_zero_is_quarantined(Segmentation segmentation)
    {
        byte[] payload = [0x00, 0x01];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Packed_run_with_a_truncated_varint_is_quarantined(Segmentation segmentation)
    {
        // Field 11 (cell_voltages_mv), packed, 3 bytes: 3301 (2 bytes) then a varint cut short.
        byte[] payload = [0x5A, 3, 0xE5, 0x19, 0x80];

        Assert.Equal(QuarantineReason.MalformedProtobuf, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Nesting_deeper_than_the_limit_is_quarantined(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.DeviceStatus", """{ "location": "drop" }""", maxDepth: 1);
        var status = new DeviceStatus { Location = new DeviceLocation { Latitude = 1 } };

        Assert.Equal(QuarantineReason.DepthExceeded, ProtobufSamples.Quarantine(policy, status.ToByteArray(), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Nesting_at_the_limit_is_accepted(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.DeviceStatus", """{ "location": "keep" }""", maxDepth: 2);
        var status = new DeviceStatus { Location = new DeviceLocation { Latitude = 1 } };

        Assert.Equal(status.ToByteArray(), ProtobufSamples.OnlyOutput(policy, status.ToByteArray(), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Invalid_utf8_in_a_kept_string_field_is_quarantined(Segmentation segmentation)
    {
        // Field 2 (pn): 0xC3 starts a two-byte sequence that 0x28 does not continue.
        byte[] payload = [0x12, 3, (byte)'A', 0xC3, 0x28];

        Assert.Equal(QuarantineReason.InvalidUtf8, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Invalid_utf8_in_a_string_field_every_purpose_drops_is_quarantined(Segmentation segmentation)
    {
        // Field 10 (network) holding field 1 (wifi_name), which no purpose keeps, with a lone continuation byte.
        byte[] payload = [0x52, 4, 0x0A, 2, (byte)'A', 0x80];

        Assert.Equal(QuarantineReason.InvalidUtf8, Quarantine("status", payload, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unknown_field_with_arbitrary_bytes_is_dropped_not_quarantined(Segmentation segmentation)
    {
        // Unknown length-delimited fields are not strings: arbitrary bytes there are dropped, not quarantined.
        byte[] payload = [.. new FirmwareReport { Sn = "SN1" }.ToByteArray(), 0xFA, 0x06, 2, 0xFF, 0xFE];

        var outputs = ProtobufSamples.Run(Policy, ProtobufSamples.Topic("firmware"), payload, segmentation, out var result);

        Assert.False(result.IsQuarantined);
        Assert.Equal(3, outputs.Count);
        Assert.All(outputs, o => Assert.Equal(o.Payload, FirmwareReport.Parser.ParseFrom(o.Payload).ToByteArray()));
    }

    [Fact]
    public void Empty_payload_is_quarantined()
    {
        Assert.Equal(QuarantineReason.Empty, Quarantine("status", [], Segmentation.SingleSegment));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Garbage_is_quarantined_not_forwarded(Segmentation segmentation)
    {
        var payload = "{\"sn\": \"WK1DEGZD8PCF32ER\"}"u8.ToArray();

        Assert.NotEqual(QuarantineReason.None, Quarantine("status", payload, segmentation));
    }
}
