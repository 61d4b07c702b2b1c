using Google.Protobuf;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>What each purpose of the sample policy keeps, and how the rewriter treats the wire format's constructs.</summary>
public sealed class ProtobufRewriteTests
{
    public static TheoryData<Segmentation> All => Segments.All;

    private static T Output<T>(string kind, string purpose, Segmentation segmentation, MessageParser<T> parser)
        where T : IMessage<T>
    {
        var output = ProtobufCanaryTests.Run(kind, segmentation).Single(o => o.Purpose == purpose);
        return parser.ParseFrom(output.Payload);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void After_sales_status_keeps_measurements_and_serial(Segmentation segmentation)
    {
        var status = Output("status", "after-sales-service", segmentation, DeviceStatus.Parser);

        Assert.Equal(ProtobufSamples.Serial, status.Sn);
        Assert.Equal("A17C0", status.Pn);
        Assert.Equal(1764000000, status.Ts);
        Assert.Equal(76, status.BatterySoc);
        Assert.Equal(698, status.SolarPowerW);
        Assert.Equal(370, status.OutputPowerW);
        Assert.Equal(9.1, status.TemperatureC);
        Assert.Equal(-66, status.Network.WifiSignal);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Packed_repeated_scalars_are_kept_as_a_unit(Segmentation segmentation)
    {
        var status = Output("status", "after-sales-service", segmentation, DeviceStatus.Parser);

        Assert.Equal([3301u, 3299u, 3310u, 3305u], status.CellVoltagesMv);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Coordinates_are_coarsened_in_doubles_and_in_position_strings(Segmentation segmentation)
    {
        var status = Output("status", "after-sales-service", segmentation, DeviceStatus.Parser);

        Assert.Equal(48.1, status.Location.Latitude);
        Assert.Equal(11.6, status.Location.Longitude);
        Assert.Equal("48.1,11.6", status.Location.Position);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Field_the_rules_do_not_name_is_dropped(Segmentation segmentation)
    {
        var status = Output("status", "after-sales-service", segmentation, DeviceStatus.Parser);

        Assert.Equal(0f, status.Location.AccuracyM);
        Assert.Equal("", status.Network.Mac);
        Assert.Equal("", status.Network.WifiName);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Ip_address_is_truncated(Segmentation segmentation)
    {
        var status = Output("status", "after-sales-service", segmentation, DeviceStatus.Parser);

        Assert.Equal("2001:218:85a3::", status.Network.Ip);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Serial_becomes_a_keyed_pseudonym_for_product_improvement(Segmentation segmentation)
    {
        var status = Output("status", "product-improvement", segmentation, DeviceStatus.Parser);

        Assert.Matches("^[A-Za-z0-9_-]+\\.[0-9a-f]{32}$", status.Sn);
        Assert.Null(status.Location);
        Assert.Equal(-66, status.Network.WifiSignal);
        Assert.Equal("", status.Network.Ip);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Same_serial_gives_the_same_pseudonym_in_every_stream(Segmentation segmentation)
    {
        var status = Output("status", "product-improvement", segmentation, DeviceStatus.Parser);
        var network = Output("network", "diagnostics", segmentation, NetworkInfo.Parser);

        Assert.Equal(status.Sn, network.Sn);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Safety_recall_firmware_keeps_only_versions_and_identity(Segmentation segmentation)
    {
        var firmware = Output("firmware", "safety-recall", segmentation, FirmwareReport.Parser);

        Assert.Equal(ProtobufSamples.Serial, firmware.Sn);
        Assert.Equal("v0.2.3.1", firmware.HwVersion);
        Assert.Equal("v1.0.3", firmware.SwVersion);
        Assert.Equal("", firmware.OtaVersion);
        Assert.Null(firmware.Upgrade);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Nested_message_keeps_its_named_fields(Segmentation segmentation)
    {
        var firmware = Output("firmware", "product-improvement", segmentation, FirmwareReport.Parser);

        Assert.Equal("v1.0.9", firmware.Upgrade.PreVersion);
        Assert.Equal(1763900000, firmware.Upgrade.UpgradeTime);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Wifi_credentials_are_dropped_and_link_quality_kept(Segmentation segmentation)
    {
        var network = Output("network", "diagnostics", segmentation, NetworkInfo.Parser);

        Assert.Equal("", network.Wifi.Ssid);
        Assert.Equal("", network.Wifi.Passphrase);
        Assert.Equal("", network.Wifi.Bssid);
        Assert.Equal(-73, network.Wifi.Rssi);
        Assert.Equal("WPA2-PSK", network.Wifi.Security);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Generalized_geography_keeps_country_and_region_only(Segmentation segmentation)
    {
        var network = Output("network", "diagnostics", segmentation, NetworkInfo.Parser);

        Assert.Equal("JP", network.Geo.Country);
        Assert.Equal("13", network.Geo.Region);
        Assert.Equal("", network.Geo.City);
        Assert.Equal("", network.Geo.Postal);
        Assert.Equal(0, network.Geo.Latitude);
        Assert.Equal(0, network.Geo.Longitude);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Repeated_messages_are_rewritten_element_by_element(Segmentation segmentation)
    {
        var log = Output("log", "diagnostics", segmentation, LogBatch.Parser);

        Assert.Equal(7, log.Entries.Count);
        Assert.Equal(["I", "D", "I", "I", "W", "I", "I"], log.Entries.Select(e => e.Level));
        Assert.Equal("bms", log.Entries[4].Component);
        Assert.Equal("cell 3 temp 9.1C soc 76%", log.Entries[4].Message);
        Assert.Contains("[secret]", log.Entries[1].Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Device_serial_in_log_text_becomes_its_pseudonym(Segmentation segmentation)
    {
        var log = Output("log", "diagnostics", segmentation, LogBatch.Parser);

        Assert.Matches("^[A-Za-z0-9_-]+\\.[0-9a-f]{32}$", log.Sn);
        Assert.EndsWith("bound device " + log.Sn, log.Entries[3].Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unknown_fields_are_dropped(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.FirmwareReport", """{ "sn": "keep", "upgrade": "keep" }""");
        var bytes = Encode(output =>
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteString("SN1");
            // Field 99 is not in the schema: a secret a newer firmware might add.
            output.WriteTag(99, WireFormat.WireType.LengthDelimited);
            output.WriteString(ProtobufSamples.Passphrase);
            output.WriteTag(6, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(Encode(nested =>
            {
                nested.WriteTag(1, WireFormat.WireType.LengthDelimited);
                nested.WriteString("v1");
                nested.WriteTag(77, WireFormat.WireType.Fixed64);
                nested.WriteDouble(ProtobufSamples.Latitude);
                nested.WriteTag(78, WireFormat.WireType.Varint);
                nested.WriteInt64(42);
            })));
        });

        var output = ProtobufSamples.OnlyOutput(policy, bytes, segmentation);

        var expected = new FirmwareReport { Sn = "SN1", Upgrade = new FirmwareUpgrade { PreVersion = "v1" } };
        Assert.Equal(expected.ToByteArray(), output);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Known_field_number_with_another_wire_type_is_dropped(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.FirmwareReport", """{ "sn": "keep", "pn": "keep" }""");
        var bytes = Encode(output =>
        {
            output.WriteTag(1, WireFormat.WireType.Varint);
            output.WriteInt64(7);
            output.WriteTag(2, WireFormat.WireType.LengthDelimited);
            output.WriteString("A17C0");
        });

        var output = ProtobufSamples.OnlyOutput(policy, bytes, segmentation);

        Assert.Equal(new FirmwareReport { Pn = "A17C0" }.ToByteArray(), output);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Unpacked_repeated_scalars_are_accepted_and_kept(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.DeviceStatus", """{ "cell_voltages_mv": "keep" }""");
        var bytes = Encode(output =>
        {
            foreach (var voltage in new uint[] { 3301, 3299 })
            {
                output.WriteTag(11, WireFormat.WireType.Varint);
                output.WriteUInt32(voltage);
            }
        });

        var output = ProtobufSamples.OnlyOutput(policy, bytes, segmentation);

        Assert.Equal([3301u, 3299u], DeviceStatus.Parser.ParseFrom(output).CellVoltagesMv);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Nested_message_longer_than_127_bytes_gets_a_two_byte_length(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.LogBatch", """{ "entries": { "fields": { "message": "keep" } } }""");
        var text = new string('x', 300);
        var batch = new LogBatch { Entries = { new LogEntry { Message = text, Level = "I" }, new LogEntry { Message = "short" } } };

        var output = ProtobufSamples.OnlyOutput(policy, batch.ToByteArray(), segmentation);

        var expected = new LogBatch { Entries = { new LogEntry { Message = text }, new LogEntry { Message = "short" } } };
        Assert.Equal(expected.ToByteArray(), output);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Keep_on_a_message_field_keeps_its_known_fields(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.NetworkInfo", """{ "wifi": "keep" }""");
        var network = ProtobufSamples.Network();

        var output = NetworkInfo.Parser.ParseFrom(ProtobufSamples.OnlyOutput(policy, network.ToByteArray(), segmentation));

        Assert.Equal(network.Wifi, output.Wifi);
        Assert.Equal("", output.Sn);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Float_coordinate_is_coarsened(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.DeviceStatus",
            """{ "location": { "fields": { "accuracy_m": { "transform": "coarsen-coordinates", "decimals": 0 } } } }""");
        var status = new DeviceStatus { Location = new DeviceLocation { AccuracyM = 4.7f } };

        var output = DeviceStatus.Parser.ParseFrom(ProtobufSamples.OnlyOutput(policy, status.ToByteArray(), segmentation));

        Assert.Equal(5f, output.Location.AccuracyM);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Integer_id_becomes_a_64_bit_pseudonym(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.LogBatch", """{ "entries": { "fields": { "ts": "pseudonymize" } } }""");
        var batch = new LogBatch { Entries = { new LogEntry { Ts = 1764000001000 }, new LogEntry { Ts = 1764000001000 }, new LogEntry { Ts = 5 } } };

        var output = LogBatch.Parser.ParseFrom(ProtobufSamples.OnlyOutput(policy, batch.ToByteArray(), segmentation));

        Assert.NotEqual(1764000001000, output.Entries[0].Ts);
        Assert.Equal(output.Entries[0].Ts, output.Entries[1].Ts);
        Assert.NotEqual(output.Entries[0].Ts, output.Entries[2].Ts);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void String_that_is_not_an_address_is_dropped_by_truncate_ip(Segmentation segmentation)
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.NetworkInfo", """{ "ip": "truncate-ip", "sn": "keep" }""");
        var network = new NetworkInfo { Ip = ProtobufSamples.Passphrase, Sn = "SN1" };

        var output = ProtobufSamples.OnlyOutput(policy, network.ToByteArray(), segmentation);

        Assert.Equal(new NetworkInfo { Sn = "SN1" }.ToByteArray(), output);
    }

    internal static byte[] Encode(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return stream.ToArray();
    }
}
