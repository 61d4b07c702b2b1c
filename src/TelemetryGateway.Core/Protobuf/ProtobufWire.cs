using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>The wire types of the protobuf encoding (the low three bits of a field's tag).</summary>
internal enum WireType : byte
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>Reading and sizing the primitives of the protobuf wire format, on spans, without allocation.</summary>
internal static class ProtobufWire
{
    /// <summary>A varint holds at most 64 bits, so at most ten bytes, the tenth carrying a single bit.</summary>
    public const int MaxVarintLength = 10;

    /// <summary>
    /// Reads a varint at <paramref name="position"/> and moves past it. False when it runs past the end of
    /// <paramref name="data"/> or is longer than ten bytes or overflows 64 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        var i = position;
        if ((uint)i < (uint)data.Length && data[i] < 0x80)
        {
            value = data[i];
            position = i + 1;
            return true;
        }
        return TryReadLongVarint(data, ref position, out value);
    }

    private static bool TryReadLongVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        var i = position;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if ((uint)i >= (uint)data.Length)
            {
                return false;
            }
            var b = data[i++];
            // The tenth byte may only carry bit 63.
            if (shift == 63 && b > 1)
            {
                return false;
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = i;
                return true;
            }
        }
        return false;
    }

    /// <summary>Skips one varint; false as <see cref="TryReadVarint"/>.</summary>
    public static bool TrySkipVarint(ReadOnlySpan<byte> data, ref int position) => TryReadVarint(data, ref position, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int VarintLength(ulong value) => value < 0x80 ? 1 : (63 - System.Numerics.BitOperations.LeadingZeroCount(value | 1) + 7) / 7;

    /// <summary>Writes <paramref name="value"/> as a varint; the destination has at least <see cref="VarintLength"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteVarint(ulong value, Span<byte> destination)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static double ReadDouble(ReadOnlySpan<byte> data) => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(data));

    public static float ReadFloat(ReadOnlySpan<byte> data) => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(data));
}
