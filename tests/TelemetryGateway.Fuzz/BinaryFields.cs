using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Fuzz;

/// <summary>
/// Where values sit in the binary formats, read independently of the engine, so the canary oracle can tell a canary
/// still in the field a seed planted it in from one the fuzzer moved elsewhere. Each field value comes with its context:
/// for protobuf the field-number path from the root (a length-delimited field is a nested message when its bytes parse
/// as one), for SOLIX the message type and field byte of the TLV binary in the envelope's <c>payload.data</c>.
/// </summary>
internal static class BinaryFields
{
    private const int MaxDepth = 16;

    /// <summary>The string/bytes leaves of a protobuf message with their paths; null when it does not parse.</summary>
    public static List<(string Context, byte[] Value)>? Protobuf(byte[] message)
    {
        var leaves = new List<(string, byte[])>();
        return TryProtobuf(message, "pb", leaves, 0) ? leaves : null;
    }

    private static bool TryProtobuf(ReadOnlySpan<byte> data, string path, List<(string, byte[])> leaves, int depth)
    {
        var found = new List<(string, byte[])>();
        var position = 0;
        while (position < data.Length)
        {
            if (!TryVarint(data, ref position, out var tag) || tag >> 3 == 0)
            {
                return false;
            }
            var field = $"{path}/{tag >> 3}";
            switch (tag & 7)
            {
                case 0:
                    if (!TryVarint(data, ref position, out _))
                    {
                        return false;
                    }
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    if (!TryVarint(data, ref position, out var length) || length > (ulong)(data.Length - position))
                    {
                        return false;
                    }
                    var value = data.Slice(position, (int)length);
                    if (value.IsEmpty || depth >= MaxDepth || !TryProtobuf(value, field, found, depth + 1))
                    {
                        found.Add((field, value.ToArray()));
                    }
                    position += (int)length;
                    break;
                default:
                    return false;
            }
        }
        if (position != data.Length)
        {
            return false;
        }
        leaves.AddRange(found);
        return true;
    }

    private static bool TryVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < data.Length; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The TLV binary in a SOLIX envelope (<c>payload</c> string → <c>data</c> base64); null when there is none.</summary>
    public static byte[]? SolixBinary(byte[] envelope)
    {
        try
        {
            using var outer = JsonDocument.Parse(envelope);
            if (outer.RootElement.ValueKind != JsonValueKind.Object
                || !outer.RootElement.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.String)
            {
                return null;
            }
            using var inner = JsonDocument.Parse(payload.GetString()!);
            return inner.RootElement.ValueKind == JsonValueKind.Object
                && inner.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String
                ? Convert.FromBase64String(data.GetString()!)
                : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The field values of a SOLIX TLV binary (marker, length, pattern, message type, an increment byte when the next
    /// byte is not a field name, then name | length | value) with their context <c>type:field</c>.
    /// </summary>
    public static List<(string Context, byte[] Value)> SolixFields(byte[] binary)
    {
        var fields = new List<(string, byte[])>();
        if (binary.Length < 10 || binary[0] != 0xFF || binary[1] != 0x09)
        {
            return fields;
        }
        var type = Convert.ToHexStringLower(binary, 7, 2);
        var position = binary[9] is >= 0xA0 and <= 0xA9 ? 9 : 10;
        while (position + 2 <= binary.Length - 1)
        {
            var name = binary[position];
            var length = binary[position + 1];
            if (position + 2 + length > binary.Length - 1)
            {
                break;
            }
            fields.Add(($"{type}:{name:x2}", binary.AsSpan(position + 2, length).ToArray()));
            position += 2 + length;
        }
        return fields;
    }

    /// <summary>Occurrences of ASCII <paramref name="canary"/> in <paramref name="data"/>, any letter case.</summary>
    public static int Count(byte[] data, string canary)
    {
        var text = Encoding.Latin1.GetString(data);
        var count = 0;
        for (var i = text.IndexOf(canary, StringComparison.OrdinalIgnoreCase); i >= 0; i = text.IndexOf(canary, i + 1, StringComparison.OrdinalIgnoreCase))
        {
            count++;
        }
        return count;
    }
}
