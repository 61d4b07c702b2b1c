using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>Malformed SOLIX input is quarantined with the reason that names the fault, whatever its segmentation.</summary>
public sealed class SolixMalformedInputTests
{
    private const string Topic = "dt/anker_power/A17C0/CUTUTT17MUSXAJ4R/state_info";

    public static TheoryData<Segmentation> All => Segments.All;

    private static byte[] Network() => SolixMessages.Binary(
        0x0407, [0xA1, 0x01, 0x32], SolixMessages.StringField(0xA2, "CUTUTT17MUSXAJ4R"), SolixMessages.Field(0xA4, 0x01, [0x64]));

    private static QuarantineReason Quarantine(byte[] envelope, Segmentation segmentation)
    {
        var (result, outputs) = SolixMessages.Run(TestPolicies.Default, Topic, envelope, segmentation);
        Assert.Empty(outputs);
        return result.QuarantineReason;
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Well_formed_message_is_forwarded(Segmentation segmentation)
    {
        var (result, outputs) = SolixMessages.Run(TestPolicies.Default, Topic, SolixMessages.Envelope(Network()), segmentation);

        Assert.False(result.IsQuarantined);
        Assert.Equal(2, outputs.Count);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Bad_marker_is_quarantined(Segmentation segmentation)
    {
        var binary = Network();
        binary[1] = 0x08;
        binary[^1] = SolixMessages.Xor(binary.AsSpan(0, binary.Length - 1));

        Assert.Equal(QuarantineReason.SolixBadMarker, Quarantine(SolixMessages.Envelope(binary), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Declared_length_that_is_not_the_real_length_is_quarantined(Segmentation segmentation)
    {
        var binary = Network();
        binary[2]++;
        binary[^1] = SolixMessages.Xor(binary.AsSpan(0, binary.Length - 1));

        Assert.Equal(QuarantineReason.SolixBadLength, Quarantine(SolixMessages.Envelope(binary), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Message_shorter_than_its_header_is_quarantined(Segmentation segmentation)
    {
        byte[] binary = [0xFF, 0x09, 0x05, 0x00, 0x03];

        Assert.Equal(QuarantineReason.SolixBadLength, Quarantine(SolixMessages.Envelope(binary), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Bad_checksum_is_quarantined(Segmentation segmentation)
    {
        var binary = Network();
        binary[^1] ^= 0x01;

        Assert.Equal(QuarantineReason.SolixBadChecksum, Quarantine(SolixMessages.Envelope(binary), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Field_overrunning_the_message_is_quarantined(Segmentation segmentation)
    {
        // The last field claims more bytes than remain before the checksum.
        var binary = SolixMessages.Binary(0x0407, [0xA1, 0x01, 0x32], [0xA4, 0x09, 0x01, 0x64]);

        Assert.Equal(QuarantineReason.SolixFieldOverrun, Quarantine(SolixMessages.Envelope(binary), segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Data_that_is_not_base64_is_quarantined(Segmentation segmentation)
    {
        var envelope = SolixMessages.Envelope("{\"data\":\"/wk4AAMBD*QHoQEy\",\"sn\":\"CUTUTT17MUSXAJ4R\",\"pn\":\"A17C0\"}");

        Assert.Equal(QuarantineReason.InvalidBase64, Quarantine(envelope, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Payload_that_is_not_a_json_string_is_quarantined(Segmentation segmentation)
    {
        var envelope = Encoding.UTF8.GetBytes("{\"head\":{\"client_id\":\"CUTUTT17MUSXAJ4R\"},\"payload\":{\"data\":\"/wkKAAMBDwQH+Q==\"}}");

        Assert.Equal(QuarantineReason.SolixBadEnvelope, Quarantine(envelope, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Payload_without_data_is_quarantined(Segmentation segmentation)
    {
        var envelope = SolixMessages.Envelope("{\"sn\":\"CUTUTT17MUSXAJ4R\",\"pn\":\"A17C0\"}");

        Assert.Equal(QuarantineReason.SolixBadEnvelope, Quarantine(envelope, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Envelope_without_head_is_quarantined(Segmentation segmentation)
    {
        var envelope = Encoding.UTF8.GetBytes("{\"payload\":\"{}\"}");

        Assert.Equal(QuarantineReason.SolixBadEnvelope, Quarantine(envelope, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Payload_string_that_is_not_json_is_quarantined(Segmentation segmentation)
    {
        var envelope = SolixMessages.Envelope("{\"data\": \"/wkKAAMBDwQH+Q==\",");

        Assert.Equal(QuarantineReason.MalformedJson, Quarantine(envelope, segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Truncated_envelope_is_quarantined(Segmentation segmentation)
    {
        var envelope = SolixMessages.Envelope(Network());

        Assert.Equal(QuarantineReason.MalformedJson, Quarantine(envelope[..^3], segmentation));
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Duplicate_data_is_quarantined(Segmentation segmentation)
    {
        var data = Convert.ToBase64String(Network());
        var envelope = SolixMessages.Envelope($"{{\"data\":\"{data}\",\"sn\":\"CUTUTT17MUSXAJ4R\",\"data\":\"{data}\"}}");

        Assert.Equal(QuarantineReason.DuplicateKey, Quarantine(envelope, segmentation));
    }
}
