using System.Buffers;
using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>
/// Protobuf device messages built with the generated classes, carrying the corpus's planted values (the same serial,
/// Wi-Fi name, passphrase, addresses and coordinates as tests/testdata/corpus/messages.ndjson), with their canary rules.
/// </summary>
internal static class ProtobufSamples
{
    public const string Serial = "WK1DEGZD8PCF32ER";
    public const string Ssid = "Office-WLAN-160";
    public const string Passphrase = "hunter4657!x";
    public const string Ipv6 = "2001:218:85a3::8a2e:370:7334";
    public const string GatewayIp = "10.20.30.44";
    public const string Mac = "CB:19:71:17:44:94";
    public const string Bssid = "BE:31:20:1E:69:FE";
    public const string Email = "li.wei@example.net";
    public const double Latitude = 48.137361;
    public const double Longitude = 11.575465;

    public static string PolicyPath => Path.Combine(AppContext.BaseDirectory, "policies", "protobuf-devices.json");

    public static CompiledPolicy Policy { get; } = PolicyCompiler.CompileFile(PolicyPath);

    public static string Topic(string kind) => $"dt/anker_power/A17C0/{Serial}/pb/{kind}";

    public static readonly string[] SerialOnly = ["after-sales-service", "safety-recall"];

    public static DeviceStatus Status() => new()
    {
        Sn = Serial,
        Pn = "A17C0",
        Ts = 1764000000,
        BatterySoc = 76,
        SolarPowerW = 698,
        OutputPowerW = 370,
        TemperatureC = 9.1,
        ErrorCode = 0,
        Location = new DeviceLocation { Latitude = Latitude, Longitude = Longitude, AccuracyM = 4.2f, Position = "48.137361,11.575465" },
        Network = new DeviceNetwork { WifiName = Ssid, WifiSignal = -66, Ip = Ipv6, Mac = Mac },
        CellVoltagesMv = { 3301, 3299, 3310, 3305 },
    };

    public static FirmwareReport Firmware() => new()
    {
        Sn = Serial,
        Pn = "A17C0",
        HwVersion = "v0.2.3.1",
        SwVersion = "v1.0.3",
        OtaVersion = "v1.1.0",
        Upgrade = new FirmwareUpgrade { PreVersion = "v1.0.9", UpgradeTime = 1763900000 },
    };

    public static NetworkInfo Network() => new()
    {
        Sn = Serial,
        Wifi = new WifiInfo { Ssid = Ssid, Passphrase = Passphrase, Bssid = Bssid, Rssi = -73, Security = "WPA2-PSK" },
        Ip = Ipv6,
        GatewayIp = GatewayIp,
        Geo = new GeoInfo { Country = "JP", Region = "13", City = "Tokyo", Postal = "100-0001", Latitude = 35.68536, Longitude = 139.75309, Source = "ip" },
    };

    public static LogBatch Log() => new()
    {
        Sn = Serial,
        Entries =
        {
            Entry(1, "I", "wifi", $"connecting to ssid={Ssid}"),
            Entry(2, "D", "wifi", $"psk={Passphrase} auth=WPA2"),
            Entry(3, "I", "net", $"dhcp lease {Ipv6} gw 192.0.2.1"),
            Entry(4, "I", "cloud", $"owner {Email} bound device {Serial}"),
            Entry(5, "W", "bms", "cell 3 temp 9.1C soc 76%"),
            Entry(6, "I", "gps", $"fix lat={Latitude:R} lon={Longitude:R} hdop=0.9"),
            Entry(7, "I", "ble", $"paired with {Mac}"),
        },
    };

    private static LogEntry Entry(int second, string level, string component, string message) =>
        new() { Ts = 1764000000000 + (second * 1000), Level = level, Component = component, Message = message };

    /// <summary>The planted values of each kind: never in any output, or only in the outputs of the purposes listed.</summary>
    public static (string Value, string[]? OnlyFor)[] Canaries(string kind) => kind switch
    {
        "status" => [(Serial, SerialOnly), (Ssid, null), (Ipv6, null), (Mac, null), ("CB1971174494", null), ("48.137361", null), ("11.575465", null)],
        "firmware" => [(Serial, SerialOnly)],
        "network" => [(Serial, SerialOnly), (Ssid, null), (Passphrase, null), (Ipv6, null), (GatewayIp, null), (Bssid, null), ("Tokyo", null), ("100-0001", null)],
        "log" => [(Serial, SerialOnly), (Ssid, null), (Passphrase, null), (Ipv6, null), (Email, null), (Mac, null), ("48.137361", null), ("11.575465", null)],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Coordinates planted as binary doubles: their eight bytes must not survive either.</summary>
    public static double[] BinaryCanaries(string kind) => kind switch
    {
        "status" => [Latitude, Longitude],
        "network" => [35.68536, 139.75309],
        _ => [],
    };

    public static readonly string[] Kinds = ["status", "firmware", "network", "log"];

    public static IMessage Build(string kind) => kind switch
    {
        "status" => Status(),
        "firmware" => Firmware(),
        "network" => Network(),
        "log" => Log(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static MessageParser Parser(string kind) => kind switch
    {
        "status" => DeviceStatus.Parser,
        "firmware" => FirmwareReport.Parser,
        "network" => NetworkInfo.Parser,
        "log" => LogBatch.Parser,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public sealed record Output(string Purpose, byte[] Topic, byte[] Payload);

    /// <summary>Minimizes one message with a fresh <see cref="Minimizer"/>; the outputs are copied out of its buffers.</summary>
    public static List<Output> Run(CompiledPolicy policy, string topic, byte[] payload, Segmentation segmentation, out MinimizationResult result)
    {
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        result = minimizer.Minimize(topic, Segments.Split(payload, segmentation));
        var outputs = new List<Output>();
        foreach (var output in result.Outputs.Span)
        {
            outputs.Add(new Output(output.Tags.Purpose.Id(), output.Topic.ToArray(), output.Payload.ToArray()));
        }
        return outputs;
    }

    /// <summary>A one-stream protobuf policy (topic <c>t/{sn}</c>, purpose diagnostics) over <paramref name="message"/>.</summary>
    public static CompiledPolicy WithFields(string message, string fieldsJson, int maxDepth = 32) => TestPolicies.CompileValid($$"""
        {
          "id": "test", "version": "1",
          "limits": { "maxDepth": {{maxDepth}} },
          "streams": {
            "s": {
              "topic": "t/{sn}", "format": "protobuf", "message": "{{message}}", "categories": ["device"],
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
        """);

    /// <summary>The single output of a one-purpose policy; fails the test if the message was quarantined.</summary>
    public static byte[] OnlyOutput(CompiledPolicy policy, byte[] payload, Segmentation segmentation)
    {
        var outputs = Run(policy, "t/SN1", payload, segmentation, out var result);
        Assert.False(result.IsQuarantined, $"quarantined as {result.QuarantineReason.Id()}");
        return Assert.Single(outputs).Payload;
    }

    public static QuarantineReason Quarantine(CompiledPolicy policy, byte[] payload, Segmentation segmentation)
    {
        var outputs = Run(policy, "t/SN1", payload, segmentation, out var result);
        Assert.Empty(outputs);
        return result.QuarantineReason;
    }

    public static ReadOnlySequence<byte> Bytes(IMessage message, Segmentation segmentation) => Segments.Split(message.ToByteArray(), segmentation);
}
