using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Core.Solix;

/// <summary>One field of a parsed SOLIX binary message, as offsets into the message.</summary>
internal struct SolixTlvField
{
    /// <summary>The field byte (A1..FE).</summary>
    public byte Id;

    /// <summary>Offset of the field byte.</summary>
    public int Start;

    /// <summary>Offset of the value (after the field byte and its one- or two-byte length).</summary>
    public int ValueStart;

    public int ValueLength;

    public readonly int End => ValueStart + ValueLength;
}

/// <summary>
/// The structure of a SOLIX binary message (<c>FF 09 | length LE | 03 0x 0F | type | [increment] | fields | XOR</c>),
/// checked in full: marker, declared length, checksum, and every field within the message. Parsing records offsets
/// into a reused table; the message bytes are not copied.
/// </summary>
/// <remarks>Wire facts from the public project thomluther/anker-solix-api (mqtttypes.py), re-implemented here.</remarks>
internal sealed class SolixTlvMessage
{
    /// <summary>Marker, length, pattern and type: the bytes before the optional increment byte.</summary>
    public const int FixedHeaderLength = 9;

    private SolixTlvField[] _fields = new SolixTlvField[64];

    /// <summary>Header length: <see cref="FixedHeaderLength"/>, plus one when the message has an increment byte.</summary>
    public int HeaderLength { get; private set; }

    /// <summary>The message type, big-endian as written (<c>04 05</c> is 0x0405).</summary>
    public ushort Type { get; private set; }

    public int FieldCount { get; private set; }

    public ReadOnlySpan<SolixTlvField> Fields => _fields.AsSpan(0, FieldCount);

    /// <summary>Parses <paramref name="message"/>; on failure returns the quarantine reason and the table is unusable.</summary>
    public QuarantineReason Parse(ReadOnlySpan<byte> message)
    {
        FieldCount = 0;
        if (message.Length < 2 || message[0] != 0xFF || message[1] != 0x09)
        {
            return QuarantineReason.SolixBadMarker;
        }
        // Header plus checksum at least, and the declared length (which counts the checksum byte) must be the real one.
        if (message.Length < FixedHeaderLength + 1 || message[2] + (message[3] << 8) != message.Length)
        {
            return QuarantineReason.SolixBadLength;
        }
        if (Xor(message) != 0)
        {
            return QuarantineReason.SolixBadChecksum;
        }
        Type = (ushort)((message[7] << 8) | message[8]);
        var checksumAt = message.Length - 1;
        // The optional increment byte: fields start at A1 (A0..A9 in practice), so any other byte there is an increment.
        HeaderLength = checksumAt > FixedHeaderLength && message[FixedHeaderLength] is not (>= 0xA0 and <= 0xA9)
            ? FixedHeaderLength + 1
            : FixedHeaderLength;
        var at = HeaderLength;
        while (at < checksumAt)
        {
            if (checksumAt - at < 2)
            {
                return QuarantineReason.SolixFieldOverrun;
            }
            var id = message[at];
            var valueStart = at + 2;
            int length = message[at + 1];
            var end = valueStart + length;
            if (!EndsWell(message, end, checksumAt, id) && TryTwoByteLength(message, at, checksumAt, out var longLength))
            {
                valueStart = at + 3;
                length = longLength;
                end = valueStart + length;
            }
            if (end > checksumAt)
            {
                return QuarantineReason.SolixFieldOverrun;
            }
            if (FieldCount == _fields.Length)
            {
                Array.Resize(ref _fields, _fields.Length * 2);
            }
            _fields[FieldCount++] = new SolixTlvField { Id = id, Start = at, ValueStart = valueStart, ValueLength = length };
            at = end;
        }
        return QuarantineReason.None;
    }

    /// <summary>XOR of all bytes: 0 for a message whose last byte is its checksum.</summary>
    public static byte Xor(ReadOnlySpan<byte> bytes)
    {
        ulong wide = 0;
        var i = 0;
        for (; i + sizeof(ulong) <= bytes.Length; i += sizeof(ulong))
        {
            wide ^= System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]);
        }
        var folded = (byte)(wide ^ (wide >> 8) ^ (wide >> 16) ^ (wide >> 24) ^ (wide >> 32) ^ (wide >> 40) ^ (wide >> 48) ^ (wide >> 56));
        for (; i < bytes.Length; i++)
        {
            folded ^= bytes[i];
        }
        return folded;
    }

    /// <summary>A field ending at <paramref name="end"/> is followed by the checksum or by a later field byte.</summary>
    private static bool EndsWell(ReadOnlySpan<byte> message, int end, int checksumAt, byte id) =>
        end == checksumAt || (end < checksumAt && message[end] > id);

    /// <summary>
    /// Strings and mixed values longer than 255 bytes (JSON, mostly) carry a two-byte little-endian length: taken when
    /// the one-byte reading does not end well, the byte after the length is a string (00) or mixed (06) type, and the
    /// two-byte reading does.
    /// </summary>
    private static bool TryTwoByteLength(ReadOnlySpan<byte> message, int at, int checksumAt, out int length)
    {
        length = 0;
        if (checksumAt - at < 4 || message[at + 3] is not (0x00 or 0x06))
        {
            return false;
        }
        length = message[at + 1] | (message[at + 2] << 8);
        return EndsWell(message, at + 3 + length, checksumAt, message[at]);
    }
}
