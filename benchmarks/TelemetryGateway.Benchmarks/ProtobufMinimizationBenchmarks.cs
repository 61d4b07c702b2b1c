using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Minimizing one protobuf device message for every purpose of its stream under deploy/policies/protobuf-devices.json:
/// the wire-format rewriter (through <see cref="Minimizer"/>, output topics included) against the baseline of parsing
/// into the generated classes, clearing fields and serializing, once per purpose (<see cref="GeneratedClassMinimizer"/>).
/// The engine's input is presented as one segment and as many small ones.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet runs a generated subclass of the benchmark class.</remarks>
[Config(typeof(MinimizationBenchmarkConfig))]
[MemoryDiagnoser]
public class ProtobufMinimizationBenchmarks : IDisposable
{
    private Minimizer? _minimizer;
    private GeneratedClassMinimizer? _baseline;
    private string _topic = string.Empty;
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _sequence;

    [Params("status", "firmware", "network")]
    public string Kind { get; set; } = "status";

    /// <summary>Segment size of the engine's input: 0 for one segment.</summary>
    [Params(0, 16)]
    public int SegmentSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = Message(Kind).ToByteArray();
        _sequence = SegmentSize == 0 ? new ReadOnlySequence<byte>(_payload) : Split(_payload, SegmentSize);
        _topic = $"dt/anker_power/A17C0/WK1DEGZD8PCF32ER/pb/{Kind}";
        var key = BenchmarkAssets.Key();
        var policy = PolicyCompiler.CompileFile(BenchmarkAssets.Find("policies", "protobuf-devices.json"));
        _minimizer = new Minimizer(policy, key);
        _baseline = new GeneratedClassMinimizer(BenchmarkAssets.KeySecret(), key.Id);
        CheckAgreement();
    }

    [Benchmark(Baseline = true)]
    public long GeneratedClasses()
    {
        long bytes = 0;
        foreach (var (_, payload) in _baseline!.Minimize(Kind, _payload))
        {
            bytes += payload.Length;
        }
        return bytes;
    }

    [Benchmark]
    public long Engine()
    {
        var result = _minimizer!.Minimize(_topic, _sequence);
        long bytes = 0;
        foreach (var output in result.Outputs.Span)
        {
            bytes += output.Payload.Length;
        }
        return bytes;
    }

    /// <summary>Both do the same job: the same purposes, byte for byte the same payloads.</summary>
    private void CheckAgreement()
    {
        var result = _minimizer!.Minimize(_topic, _sequence);
        var expected = _baseline!.Minimize(Kind, _payload);
        var outputs = result.Outputs.Span;
        if (result.IsQuarantined || outputs.Length != expected.Count)
        {
            throw new InvalidOperationException($"{Kind}: the engine gave {outputs.Length} outputs ({result.QuarantineReason}), the baseline {expected.Count}");
        }
        for (var i = 0; i < outputs.Length; i++)
        {
            if (!outputs[i].Payload.Span.SequenceEqual(expected[i].Payload))
            {
                throw new InvalidOperationException($"{Kind}: engine and baseline disagree for {expected[i].Purpose}");
            }
        }
    }

    internal static IMessage Message(string kind) => kind switch
    {
        "status" => new DeviceStatus
        {
            Sn = "WK1DEGZD8PCF32ER",
            Pn = "A17C0",
            Ts = 1764000000,
            BatterySoc = 76,
            SolarPowerW = 698,
            OutputPowerW = 370,
            TemperatureC = 9.1,
            Location = new DeviceLocation { Latitude = 48.137361, Longitude = 11.575465, AccuracyM = 4.2f, Position = "48.137361,11.575465" },
            Network = new DeviceNetwork { WifiName = "Office-WLAN-160", WifiSignal = -66, Ip = "2001:218:85a3::8a2e:370:7334", Mac = "CB:19:71:17:44:94" },
            CellVoltagesMv = { 3301, 3299, 3310, 3305 },
        },
        "firmware" => new FirmwareReport
        {
            Sn = "WK1DEGZD8PCF32ER",
            Pn = "A17C0",
            HwVersion = "v0.2.3.1",
            SwVersion = "v1.0.3",
            OtaVersion = "v1.1.0",
            Upgrade = new FirmwareUpgrade { PreVersion = "v1.0.9", UpgradeTime = 1763900000 },
        },
        "network" => new NetworkInfo
        {
            Sn = "WK1DEGZD8PCF32ER",
            Wifi = new WifiInfo { Ssid = "Office-WLAN-160", Passphrase = "hunter4657!x", Bssid = "BE:31:20:1E:69:FE", Rssi = -73, Security = "WPA2-PSK" },
            Ip = "2001:218:85a3::8a2e:370:7334",
            GatewayIp = "10.20.30.44",
            Geo = new GeoInfo { Country = "JP", Region = "13", City = "Tokyo", Postal = "100-0001", Latitude = 35.68536, Longitude = 139.75309, Source = "ip" },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static ReadOnlySequence<byte> Split(byte[] bytes, int size)
    {
        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < bytes.Length; offset += size)
        {
            var segment = new Segment(bytes.AsMemory(offset, Math.Min(size, bytes.Length - offset)), last);
            first ??= segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _minimizer?.Dispose();
        _minimizer = null;
        GC.SuppressFinalize(this);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
