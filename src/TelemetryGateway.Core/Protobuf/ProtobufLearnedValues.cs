using TelemetryGateway.Core.Learning;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// The learned-values step for protobuf: learns the values a message reveals by the names of the string fields that
/// carry them (<see cref="ValueNames"/>, as for JSON members: <c>ssid</c>, <c>passphrase</c>, <c>bssid</c>, a name
/// under <c>owner</c>, ...), and removes the values the site revealed from the string fields of an output, writing every
/// length again so the output stays a valid message of its type.
/// </summary>
internal static class ProtobufLearnedValues
{
    /// <summary>Learns from <paramref name="message"/> (of <paramref name="schema"/>, already validated) for <paramref name="device"/>; returns how many values were new.</summary>
    public static int Learn(ReadOnlySpan<byte> message, ProtobufSchema schema, ReadOnlySpan<char> device, LearnedSecrets store, int maxDepth) =>
        Learn(message, schema, device, store, inContact: false, inWifi: false, depth: 1, maxDepth);

    /// <summary>True when a string field of <paramref name="message"/> (anywhere in it) holds one of <paramref name="values"/>.</summary>
    public static bool Contains(ReadOnlySpan<byte> message, ProtobufSchema schema, LearnedSecretSet values, int maxDepth)
    {
        var position = 0;
        while (Next(message, schema, ref position, out var field, out var value, out _))
        {
            if (field?.Shape == FieldShape.String && values.Find(value, 0, out _, out _) >= 0)
            {
                return true;
            }

            if (field?.Shape == FieldShape.Message && maxDepth > 1 && Contains(value, field.Message!, values, maxDepth - 1))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes <paramref name="message"/> to <paramref name="writer"/> with every value of <paramref name="values"/> in
    /// its string fields replaced by its class marker; returns how many were replaced.
    /// </summary>
    public static int Scrub(ReadOnlySpan<byte> message, ProtobufSchema schema, LearnedSecretSet values, ProtobufOutputWriter writer, int maxDepth)
    {
        var replaced = 0;
        var position = 0;
        var start = 0;
        while (Next(message, schema, ref position, out var field, out var value, out var lengthStart))
        {
            var scrubString = field?.Shape == FieldShape.String && values.Find(value, 0, out _, out _) >= 0;
            if (!scrubString && !(field?.Shape == FieldShape.Message && maxDepth > 1 && Contains(value, field.Message!, values, maxDepth - 1)))
            {
                continue;
            }

            // Copied up to the field's tag; its length is written anew around the scrubbed value.
            writer.WriteRaw(message[start..lengthStart]);
            writer.BeginLength();
            replaced += scrubString ? values.Scrub(value, writer, jsonStrings: false) : Scrub(value, field!.Message!, values, writer, maxDepth - 1);
            writer.EndLength();
            start = position;
        }

        writer.WriteRaw(message[start..]);
        return replaced;
    }

    private static int Learn(
        ReadOnlySpan<byte> message, ProtobufSchema schema, ReadOnlySpan<char> device, LearnedSecrets store, bool inContact, bool inWifi, int depth, int maxDepth)
    {
        var learned = 0;
        var position = 0;
        while (Next(message, schema, ref position, out var field, out var value, out _))
        {
            if (field?.Shape == FieldShape.String
                && ValueNames.ClassOf(field.LearnedAs(inContact, inWifi), value) is { } kind
                && store.Learn(device, kind, value))
            {
                learned++;
            }
            else if (field?.Shape == FieldShape.Message && depth < maxDepth)
            {
                learned += Learn(value, field.Message!, device, store, inContact || field.OpensContact, inWifi || field.OpensWifi, depth + 1, maxDepth);
            }
        }

        return learned;
    }

    // The next field of message at position: its schema field when it is a length-delimited field the schema knows
    // (null otherwise), its value and where its length starts. False at the end, or where the message is not well formed
    // (outputs and validated inputs always are; the rest is then left as it is).
    private static bool Next(ReadOnlySpan<byte> message, ProtobufSchema schema, ref int position, out SchemaField? field, out ReadOnlySpan<byte> value, out int lengthStart)
    {
        field = null;
        value = default;
        lengthStart = position;
        if (position >= message.Length || !ProtobufWire.TryReadVarint(message, ref position, out var tag))
        {
            return false;
        }

        switch ((WireType)(tag & 7))
        {
            case WireType.Varint:
                return ProtobufWire.TrySkipVarint(message, ref position);
            case WireType.Fixed64:
                position += sizeof(ulong);
                return position <= message.Length;
            case WireType.Fixed32:
                position += sizeof(uint);
                return position <= message.Length;
            case WireType.LengthDelimited:
                lengthStart = position;
                if (!ProtobufWire.TryReadVarint(message, ref position, out var length) || length > (ulong)(message.Length - position))
                {
                    return false;
                }

                value = message.Slice(position, (int)length);
                position += (int)length;
                var index = tag >> 3 > int.MaxValue ? -1 : schema.IndexOf((int)(tag >> 3));
                field = index < 0 || schema.Fields[index].WireType != WireType.LengthDelimited ? null : schema.Fields[index];
                return true;
            default:
                return false;
        }
    }
}
