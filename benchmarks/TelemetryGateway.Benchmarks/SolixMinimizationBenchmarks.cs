using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Minimizing one SOLIX message (envelope, JSON-string payload, base64 TLV binary) for both purposes of its stream
/// under the shipped policy: the engine against a bare decode of the same bytes (read the envelope, unescape the
/// payload, read it, base64-decode the binary; nothing rewritten or written) and against the same steps written with
/// <see cref="JsonNode"/>, <see cref="Convert"/> and arrays (what one would write without the engine).
/// </summary>
/// <remarks>
/// 0405 is the large status message (a 291-byte binary with a sub-device serial and a MAC), 0407 the small network
/// message (with a Wi-Fi name). Not sealed: BenchmarkDotNet runs a generated subclass of the benchmark class.
/// </remarks>
[Config(typeof(MinimizationBenchmarkConfig))]
[MemoryDiagnoser]
public class SolixMinimizationBenchmarks : IDisposable
{
    private Minimizer? _minimizer;
    private string _topic = string.Empty;
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _sequence;
    private readonly byte[] _unescaped = new byte[64 * 1024];
    private readonly byte[] _binary = new byte[64 * 1024];
    private byte[] _keySecret = [];

    [Params("0405", "0407")]
    public string MessageType { get; set; } = "0405";

    [GlobalSetup]
    public void Setup()
    {
        // The A17C0 messages: the 0405 one carries a sub-device serial and a MAC, the 0407 one a Wi-Fi name.
        var line = File.ReadLines(BenchmarkAssets.Find("testdata", "solix.ndjson"))
            .First(l => l.Contains($"-solix-{MessageType}\"", StringComparison.Ordinal) && l.Contains("A17C0", StringComparison.Ordinal));
        using var document = JsonDocument.Parse(line);
        _topic = document.RootElement.GetProperty("topic").GetString()!;
        _payload = Encoding.UTF8.GetBytes(document.RootElement.GetProperty("payloadText").GetString()!);
        _sequence = new ReadOnlySequence<byte>(_payload);
        _keySecret = BenchmarkAssets.KeySecret();
        _minimizer = new Minimizer(BenchmarkAssets.Policy(), BenchmarkAssets.Key());
        var result = _minimizer.Minimize(_topic, _sequence);
        if (result.IsQuarantined || result.Outputs.Length != 2)
        {
            throw new InvalidOperationException("The benchmark message must minimize into two outputs.");
        }
    }

    [Benchmark(Baseline = true)]
    public long BareDecode()
    {
        var reader = new Utf8JsonReader(_sequence);
        long checksum = 0;
        var unescaped = 0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 64)
            {
                unescaped = reader.CopyString(_unescaped);
            }
        }
        var payload = new Utf8JsonReader(_unescaped.AsSpan(0, unescaped));
        while (payload.Read())
        {
            if (payload.TokenType == JsonTokenType.String && payload.ValueSpan.Length > 20)
            {
                System.Buffers.Text.Base64.DecodeFromUtf8(payload.ValueSpan, _binary, out _, out var written);
                checksum += written + _binary[written - 1];
            }
        }
        return checksum;
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

    [Benchmark]
    public long JsonNodeBaseline()
    {
        long bytes = 0;
        bytes += JsonNodeRewrite(pseudonymize: false).Length;
        bytes += JsonNodeRewrite(pseudonymize: true).Length;
        return bytes;
    }

    /// <summary>
    /// The same steps with the usual tools: parse into nodes, decode to arrays, drop the Wi-Fi name (a3 of 0407) and MAC
    /// (c1 of 0405) fields, replace the serial (HMAC per use), recompute length and checksum, encode again.
    /// </summary>
    private string JsonNodeRewrite(bool pseudonymize)
    {
        var envelope = JsonNode.Parse(_payload)!.AsObject();
        var payload = JsonNode.Parse(envelope["payload"]!.GetValue<string>())!.AsObject();
        var binary = Convert.FromBase64String(payload["data"]!.GetValue<string>());
        var serial = payload["sn"]!.GetValue<string>();
        var pseudonym = pseudonymize ? SameLengthPseudonym(serial) : serial;
        var dropped = MessageType == "0405" ? 0xC1 : 0xA3;
        var output = new List<byte>(binary.Length);
        output.AddRange(binary.AsSpan(0, 9));
        for (var at = 9; at < binary.Length - 1; at += 2 + binary[at + 1])
        {
            if (binary[at] != dropped)
            {
                output.AddRange(binary.AsSpan(at, 2 + binary[at + 1]));
            }
        }
        var rewritten = output.ToArray();
        var serialBytes = Encoding.ASCII.GetBytes(serial);
        var index = rewritten.AsSpan().IndexOf(serialBytes);
        if (index >= 0)
        {
            Encoding.ASCII.GetBytes(pseudonym).CopyTo(rewritten, index);
        }
        var length = rewritten.Length + 1;
        rewritten[2] = (byte)length;
        rewritten[3] = (byte)(length >> 8);
        byte checksum = 0;
        foreach (var b in rewritten)
        {
            checksum ^= b;
        }
        payload["data"] = Convert.ToBase64String([.. rewritten, checksum]);
        payload["sn"] = pseudonym;
        envelope["payload"] = payload.ToJsonString();
        envelope["head"]!["client_id"] = pseudonym;
        return envelope.ToJsonString();
    }

    private string SameLengthPseudonym(string serial)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var digest = HMACSHA256.HashData(_keySecret, Encoding.ASCII.GetBytes(serial));
        return string.Create(serial.Length, digest, (chars, d) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Alphabet[((d[2 * i % 32] << 8) | d[((2 * i) + 1) % 32]) % Alphabet.Length];
            }
        });
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    public void Dispose()
    {
        _minimizer?.Dispose();
        _minimizer = null;
        GC.SuppressFinalize(this);
    }
}
