using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Solix;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>The TLV structure: header forms, field lengths, and the checks that quarantine.</summary>
public sealed class SolixTlvMessageTests
{
    [Fact]
    public void Increment_byte_after_the_type_is_part_of_the_header()
    {
        var binary = SolixMessages.Binary(0x0830, [0x00, 0xA1, 0x03, 0x76, 0x31, 0x2E]);
        var parsed = new SolixTlvMessage();

        Assert.Equal(QuarantineReason.None, parsed.Parse(binary));

        Assert.Equal(10, parsed.HeaderLength);
        Assert.Equal(0x0830, parsed.Type);
        Assert.Equal(0xA1, Assert.Single(parsed.Fields.ToArray()).Id);
    }

    [Fact]
    public void Long_string_field_has_a_two_byte_length()
    {
        var text = new byte[300];
        Array.Fill(text, (byte)'x');
        byte[] field = [0xA3, 0x2D, 0x01, 0x00, .. text];
        var binary = SolixMessages.Binary(0x0405, [0xA2, 0x02, 0x01, 0x05], field, [0xA4, 0x02, 0x01, 0x07]);
        var parsed = new SolixTlvMessage();

        Assert.Equal(QuarantineReason.None, parsed.Parse(binary));

        var fields = parsed.Fields.ToArray();
        Assert.Equal([0xA2, 0xA3, 0xA4], fields.Select(f => f.Id));
        Assert.Equal(301, fields[1].ValueLength);
    }

    [Fact]
    public void Message_without_fields_is_valid()
    {
        var parsed = new SolixTlvMessage();

        Assert.Equal(QuarantineReason.None, parsed.Parse(SolixMessages.Binary(0x0857)));
        Assert.Equal(0, parsed.FieldCount);
    }

    [Fact]
    public void Field_header_cut_by_the_checksum_is_an_overrun()
    {
        var parsed = new SolixTlvMessage();

        Assert.Equal(QuarantineReason.SolixFieldOverrun, parsed.Parse(SolixMessages.Binary(0x0407, [0xA1, 0x01, 0x32], [0xA2])));
    }
}
