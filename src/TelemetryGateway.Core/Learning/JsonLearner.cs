using System.Buffers;
using System.Text.Json;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// Learns the values a JSON message reveals, by the names that carry them (<see cref="ValueNames"/>). Allocates nothing
/// unless a value is new.
/// </summary>
internal static class JsonLearner
{
    private const int MaxNameLength = 64;
    private const int MaxEscapedValueLength = LearnedSecretSet.MaxLength * 6;

    /// <summary>Learns from <paramref name="payload"/> (well-formed JSON) for <paramref name="device"/>; returns how many values were new.</summary>
    public static int Learn(in ReadOnlySequence<byte> payload, ReadOnlySpan<char> device, LearnedSecrets store, int maxDepth)
    {
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        Span<byte> name = stackalloc byte[MaxNameLength];
        Span<byte> value = stackalloc byte[MaxEscapedValueLength];
        var key = ValueName.None;
        var keyOpensContact = false;
        var keyOpensWifi = false;
        var contactFrom = -1;
        var wifiFrom = -1;
        var learned = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var nameLength = EscapedLength(ref reader) <= MaxNameLength ? reader.CopyString(name) : 0;
                        key = ValueNames.Classify(name[..nameLength], contactFrom >= 0, wifiFrom >= 0, out keyOpensContact, out keyOpensWifi);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (keyOpensContact && contactFrom < 0)
                        {
                            contactFrom = reader.CurrentDepth;
                        }

                        if (keyOpensWifi && wifiFrom < 0)
                        {
                            wifiFrom = reader.CurrentDepth;
                        }

                        keyOpensContact = keyOpensWifi = false;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        contactFrom = reader.CurrentDepth == contactFrom ? -1 : contactFrom;
                        wifiFrom = reader.CurrentDepth == wifiFrom ? -1 : wifiFrom;
                        key = ValueName.None;
                        break;
                    case JsonTokenType.String when EscapedLength(ref reader) <= MaxEscapedValueLength:
                        var text = value[..reader.CopyString(value)];
                        if (ValueNames.ClassOf(key, text) is { } kind && store.Learn(device, kind, text))
                        {
                            learned++;
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            // The rewriter decides what becomes of a malformed message; what was read so far is learned.
        }

        return learned;
    }

    private static int EscapedLength(ref Utf8JsonReader reader) => reader.HasValueSequence ? (int)Math.Min(int.MaxValue, reader.ValueSequence.Length) : reader.ValueSpan.Length;
}
