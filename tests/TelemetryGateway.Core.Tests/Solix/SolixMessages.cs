using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>An output SOLIX message taken apart: head, payload JSON, and the decoded binary.</summary>
public sealed record SolixOutput(string Purpose, string Topic, JsonElement Head, JsonElement Payload, byte[] Binary)
{
    public string? ClientId => Head.TryGetProperty("client_id", out var id) ? id.GetString() : null;
    public string? Sn => Payload.TryGetProperty("sn", out var sn) ? sn.GetString() : null;
}

/// <summary>The SOLIX corpus and helpers to build, decode and check SOLIX messages in tests.</summary>
public static class SolixMessages
{
    public static string CorpusPath => Path.Combine(AppContext.BaseDirectory, "testdata", "corpus", "solix.ndjson");

    public static IReadOnlyList<CorpusMessage> Corpus { get; } = Support.Corpus.Load(CorpusPath);

    /// <summary>The message type (hex) a corpus message id ends with.</summary>
    public static string TypeOf(CorpusMessage message) => message.Id[^4..];

    public static SolixOutput Decode(MinimizerRun.Output output)
    {
        using var document = JsonDocument.Parse(output.Payload);
        var root = document.RootElement;
        var head = root.GetProperty("head").Clone();
        var payloadText = root.GetProperty("payload").GetString()!;
        using var payloadDocument = JsonDocument.Parse(payloadText);
        var payload = payloadDocument.RootElement.Clone();
        var binary = Convert.FromBase64String(payload.GetProperty("data").GetString()!);
        return new SolixOutput(output.Purpose, output.Topic, head, payload, binary);
    }

    /// <summary>The binary of an input envelope.</summary>
    public static byte[] BinaryOf(byte[] envelope)
    {
        using var document = JsonDocument.Parse(envelope);
        using var payload = JsonDocument.Parse(document.RootElement.GetProperty("payload").GetString()!);
        return Convert.FromBase64String(payload.RootElement.GetProperty("data").GetString()!);
    }

    /// <summary>An envelope around <paramref name="binary"/> as a device sends it.</summary>
    public static byte[] Envelope(byte[] binary, string serial = "CUTUTT17MUSXAJ4R", string productCode = "A17C0")
    {
        var payload = JsonSerializer.Serialize(new { data = Convert.ToBase64String(binary), sn = serial, pn = productCode });
        return Envelope(payload, serial);
    }

    /// <summary>An envelope whose payload string is <paramref name="payloadJson"/>.</summary>
    public static byte[] Envelope(string payloadJson, string serial = "CUTUTT17MUSXAJ4R") => Encoding.UTF8.GetBytes(
        "{\"head\":{\"version\":\"1.0.0.1\",\"client_id\":\"" + serial + "\",\"sess_id\":\"6071-1015\",\"msg_seq\":5101,\"cmd\":16,"
        + "\"cmd_status\":1,\"sign_code\":0,\"seed\":\"null\",\"timestamp\":1760711009},\"payload\":" + JsonSerializer.Serialize(payloadJson) + "}");

    /// <summary>A binary message of <paramref name="type"/> with <paramref name="fields"/> (already encoded), length and checksum set.</summary>
    public static byte[] Binary(ushort type, params byte[][] fields)
    {
        var body = fields.SelectMany(f => f).ToArray();
        var message = new byte[9 + body.Length + 1];
        message[0] = 0xFF;
        message[1] = 0x09;
        message[2] = (byte)message.Length;
        message[3] = (byte)(message.Length >> 8);
        message[4] = 0x03;
        message[5] = 0x01;
        message[6] = 0x0F;
        message[7] = (byte)(type >> 8);
        message[8] = (byte)type;
        body.CopyTo(message, 9);
        message[^1] = Xor(message.AsSpan(0, message.Length - 1));
        return message;
    }

    /// <summary>A typed field: field byte, length (type byte plus value), type, value.</summary>
    public static byte[] Field(byte id, byte type, byte[] value) => [id, (byte)(value.Length + 1), type, .. value];

    public static byte[] StringField(byte id, string text) => Field(id, 0x00, Encoding.ASCII.GetBytes(text));

    public static byte Xor(ReadOnlySpan<byte> bytes)
    {
        byte x = 0;
        foreach (var b in bytes)
        {
            x ^= b;
        }
        return x;
    }

    /// <summary>
    /// Asserts <paramref name="binary"/> is a valid SOLIX message: marker, length, XOR checksum, every field within the
    /// message, and the type <paramref name="type"/>. Returns its field bytes in order.
    /// </summary>
    public static List<byte> AssertValid(byte[] binary, ushort type, string context)
    {
        Assert.True(binary.Length >= 10, $"{context}: shorter than a header");
        Assert.True(binary[0] == 0xFF && binary[1] == 0x09, $"{context}: marker");
        Assert.True(binary[2] + (binary[3] << 8) == binary.Length, $"{context}: declared length");
        Assert.True(Xor(binary) == 0, $"{context}: checksum");
        Assert.True(((binary[7] << 8) | binary[8]) == type, $"{context}: message type");
        var at = binary.Length > 10 && binary[9] is not (>= 0xA0 and <= 0xA9) ? 10 : 9;
        var ids = new List<byte>();
        while (at < binary.Length - 1)
        {
            Assert.True(binary.Length - 1 - at >= 2, $"{context}: field header overruns");
            ids.Add(binary[at]);
            at += 2 + binary[at + 1];
            Assert.True(at <= binary.Length - 1, $"{context}: field overruns the message");
        }
        return ids;
    }

    // The corpus runs thousands of cases: one minimizer per thread for the shipped policy (as the gateway has), instead
    // of one per case, keeps the suite's allocation churn (and the GC pressure other tests feel) down.
    [ThreadStatic]
    private static Minimizer? t_shipped;

    /// <summary>
    /// A run of the shipped policy on this thread's reused minimizer (outputs copied out), or a fresh minimizer for
    /// another policy.
    /// </summary>
    public static (MinimizationResult Result, List<MinimizerRun.Output> Outputs) Run(CompiledPolicy policy, string topic, byte[] payload, Segmentation segmentation)
    {
        if (!ReferenceEquals(policy, TestPolicies.Default))
        {
            return MinimizerRun.Run(policy, topic, payload, segmentation);
        }
        t_shipped ??= new Minimizer(TestPolicies.Default, TestPolicies.Key);
        var result = t_shipped.Minimize(topic, Segments.Split(payload, segmentation));
        var outputs = new List<MinimizerRun.Output>();
        foreach (var output in result.Outputs.Span)
        {
            outputs.Add(new MinimizerRun.Output(
                Core.Vocabulary.PrivacyVocabulary.Id(output.Tags.Purpose), Encoding.UTF8.GetString(output.Topic.Span), Encoding.UTF8.GetString(output.Payload.Span)));
        }
        return (result, outputs);
    }

    /// <summary>All outputs of a message through a minimizer run, decoded.</summary>
    public static List<SolixOutput> Outputs(CompiledPolicy policy, CorpusMessage message, Segmentation segmentation, out MinimizationResult result)
    {
        var (run, outputs) = Run(policy, message.Topic, message.Payload, segmentation);
        result = run;
        return outputs.Select(Decode).ToList();
    }

    public static TheoryData<string, Segmentation> CorpusCases()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var message in Corpus)
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(message.Id, segmentation);
            }
        }
        return data;
    }

    public static CorpusMessage ById(string id) => Corpus.Single(m => m.Id == id);
}
