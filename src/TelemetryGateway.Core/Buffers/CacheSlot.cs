using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TelemetryGateway.Core.Buffers;

/// <summary>
/// The slot of a short byte string in a small direct-mapped cache: a multiplicative hash of all of it, eight bytes at a
/// time. A slot only needs to spread values, as every cache compares the whole value before it uses a slot, so this
/// need not resist crafted collisions (they cost a recomputation, never a wrong answer), and it needs no per-process
/// seed, which is what makes it cheaper than <see cref="HashCode"/> for the few bytes of a serial or an address.
/// </summary>
internal static class CacheSlot
{
    private const ulong Multiplier = 0x9E3779B97F4A7C15;

    /// <summary>A slot in <c>[0, 2^<paramref name="bits"/>)</c> for <paramref name="value"/> and <paramref name="salt"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ReadOnlySpan<byte> value, int bits, int salt = 0)
    {
        var hash = ((ulong)(uint)value.Length << 32 | (uint)salt) * Multiplier;
        var words = MemoryMarshal.Cast<byte, ulong>(value);
        foreach (var word in words)
        {
            hash = (hash ^ word) * Multiplier;
        }
        foreach (var b in value[(words.Length * sizeof(ulong))..])
        {
            hash = (hash ^ b) * Multiplier;
        }
        // The high bits of a multiplicative hash are the well-mixed ones.
        return (int)(hash >> (64 - bits));
    }
}
