using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Core.Tests.Support;

/// <summary>A message of the shared corpus: topic, payload, planted canaries with their rule, and values to keep.</summary>
public sealed record CorpusMessage(string Id, string Topic, string ContentType, byte[] Payload, IReadOnlyList<Canary> Canaries, IReadOnlyList<KeptValue> Keep)
{
    public bool IsBad => Id.Contains("-bad-", StringComparison.Ordinal);

    /// <summary>The test display name: the message id only (ids carry no personal data; payloads and topics do).</summary>
    public override string ToString() => Id;
}

/// <summary>A planted value: <c>never</c> (must not reach the cloud in any form) or <c>only:p1,p2</c>.</summary>
public sealed record Canary(string Value, string Rule)
{
    public bool IsNever => Rule == "never";

    public IReadOnlyList<string> OnlyPurposes =>
        Rule.StartsWith("only:", StringComparison.Ordinal) ? Rule["only:".Length..].Split(',') : [];
}

/// <summary>A value that must still be at <paramref name="Path"/> (<c>$.a.b</c>) in at least one output.</summary>
public sealed record KeptValue(string Path, JsonElement Value);

public static class Corpus
{
    public static string MessagesPath => Path.Combine(AppContext.BaseDirectory, "testdata", "corpus", "messages.ndjson");

    public static IReadOnlyList<CorpusMessage> Messages { get; } = Load(MessagesPath);

    public static IReadOnlyList<CorpusMessage> Load(string path)
    {
        var messages = new List<CorpusMessage>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var payload = root.TryGetProperty("payloadBase64", out var base64)
                ? base64.GetBytesFromBase64()
                : Encoding.UTF8.GetBytes(root.GetProperty("payloadText").GetString()!);
            var canaries = root.GetProperty("canaries").EnumerateArray()
                .Select(c => new Canary(c.GetProperty("value").GetString()!, c.GetProperty("rule").GetString()!)).ToArray();
            var keep = root.TryGetProperty("keep", out var keepElement)
                ? keepElement.EnumerateArray().Select(k => new KeptValue(k.GetProperty("path").GetString()!, k.GetProperty("value").Clone())).ToArray()
                : [];
            messages.Add(new CorpusMessage(
                root.GetProperty("id").GetString()!,
                root.GetProperty("topic").GetString()!,
                root.TryGetProperty("contentType", out var contentType) ? contentType.GetString()! : "application/octet-stream",
                payload,
                canaries,
                keep));
        }
        return messages;
    }
}
