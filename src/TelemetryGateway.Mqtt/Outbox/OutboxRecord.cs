using System.Buffers.Binary;
using System.Text;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Outbox;

/// <summary>
/// How an <see cref="UpstreamMessage"/> is stored: one length-prefixed record per row, so that a row costs one bound
/// parameter instead of ten. Layout (version 2): version byte, expiry (u32), then topic, content type, purpose,
/// legal basis, categories, policy, retention, stream as u16-length-prefixed UTF-8, then the payload as
/// u32-length-prefixed bytes. Version 3 adds the device (the stream's device capture, for the data subject's rights) after
/// the stream. Version 4 adds, after the device, an anonymous aggregate's tags: a u16-prefixed window (empty for other
/// outputs), then k (u32) and epsilon (u16-prefixed) when the window is not empty. Version 5 adds, after those, the
/// destination region and the transfer safeguard (notice §7). Versions 1 (no stream), 2 (no device), 3 (no aggregate
/// tags) and 4 (no region) are still read.
/// </summary>
internal static class OutboxRecord
{
    private const byte Version = 5;

    public static byte[] Encode(UpstreamMessage message)
    {
        var strings = message.Aggregate is { } aggregate
            ? new[] { message.Topic, message.ContentType, message.Purpose, message.LegalBasis, message.Categories, message.Policy, message.Retention, message.Stream, message.Device, aggregate.Window, aggregate.Epsilon, message.Region, message.Safeguard }
            : new[] { message.Topic, message.ContentType, message.Purpose, message.LegalBasis, message.Categories, message.Policy, message.Retention, message.Stream, message.Device, "", message.Region, message.Safeguard };
        var size = 1 + 4 + 4 + message.Payload.Length + (message.Aggregate is null ? 0 : 4);
        foreach (var text in strings)
        {
            size += 2 + Encoding.UTF8.GetByteCount(text);
        }
        var record = new byte[size];
        var span = record.AsSpan();
        span[0] = Version;
        BinaryPrimitives.WriteUInt32LittleEndian(span[1..], message.ExpirySeconds);
        var offset = 5;
        for (var i = 0; i < strings.Length; i++)
        {
            if (i == 10 && message.Aggregate is not null)
            {
                // An aggregate's k, between its window and its epsilon.
                BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], (uint)message.Aggregate!.K);
                offset += 4;
            }
            var length = Encoding.UTF8.GetBytes(strings[i], span[(offset + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[offset..], checked((ushort)length));
            offset += 2 + length;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], (uint)message.Payload.Length);
        message.Payload.CopyTo(span[(offset + 4)..]);
        return record;
    }

    /// <summary>Decodes a record; throws <see cref="InvalidDataException"/> for a record this version cannot read.</summary>
    public static UpstreamMessage Decode(ReadOnlySpan<byte> record)
    {
        if (record.Length < 5 || record[0] is not (1 or 2 or 3 or 4 or Version))
        {
            throw new InvalidDataException("Unknown outbox record version.");
        }
        var expiry = BinaryPrimitives.ReadUInt32LittleEndian(record[1..]);
        var offset = 5;
        var topic = ReadString(record, ref offset);
        var contentType = ReadString(record, ref offset);
        var purpose = ReadString(record, ref offset);
        var legalBasis = ReadString(record, ref offset);
        var categories = ReadString(record, ref offset);
        var policy = ReadString(record, ref offset);
        var retention = ReadString(record, ref offset);
        var stream = record[0] >= 2 ? ReadString(record, ref offset) : "";
        var device = record[0] >= 3 ? ReadString(record, ref offset) : "";
        AggregateTags? aggregate = null;
        if (record[0] >= 4 && ReadString(record, ref offset) is { Length: > 0 } window)
        {
            var k = (int)BinaryPrimitives.ReadUInt32LittleEndian(record[offset..]);
            offset += 4;
            aggregate = new AggregateTags(window, k, ReadString(record, ref offset));
        }
        var region = record[0] >= 5 ? ReadString(record, ref offset) : "";
        var safeguard = record[0] >= 5 ? ReadString(record, ref offset) : "";
        var payloadLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(record[offset..]));
        var payload = record.Slice(offset + 4, payloadLength).ToArray();
        return new UpstreamMessage(topic, payload, contentType, purpose, legalBasis, categories, policy, retention, expiry, stream, device, aggregate, region, safeguard);
    }

    private static string ReadString(ReadOnlySpan<byte> record, ref int offset)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(record[offset..]);
        var text = Encoding.UTF8.GetString(record.Slice(offset + 2, length));
        offset += 2 + length;
        return text;
    }
}
