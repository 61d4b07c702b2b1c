using TelemetryGateway.Core.Buffers;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// Recent results of <see cref="IpTruncation.TryTruncate"/>, kept because a device reports the same address in message
/// after message, and parsing and formatting it again costs more than the rest of its field. A small direct-mapped
/// cache, reused in place, so it allocates nothing after construction. One instance per thread.
/// </summary>
internal sealed class RecentIpTruncations
{
    private const int SlotBits = 5;
    private const int Slots = 1 << SlotBits;
    private const int MaxCachedInput = 64;

    // An output is at most 48 bytes longer than its input (see IpTruncation.TryTruncate).
    private const int MaxCachedOutput = MaxCachedInput + 48;

    private readonly byte[] _inputs = new byte[Slots * MaxCachedInput];
    private readonly byte[] _outputs = new byte[Slots * MaxCachedOutput];

    // Input length + 1, so that 0 marks an empty slot.
    private readonly int[] _inputLengths = new int[Slots];

    // -1 when the input is not an address.
    private readonly int[] _outputLengths = new int[Slots];
    private readonly int[] _prefixLengths = new int[Slots];

    /// <summary>As <see cref="IpTruncation.TryTruncate"/>, answered from the cache when the same value was truncated recently.</summary>
    public bool TryTruncate(ReadOnlySpan<byte> value, int ipv4PrefixLength, int ipv6PrefixLength, Span<byte> destination, out int written)
    {
        if (value.Length > MaxCachedInput)
        {
            return IpTruncation.TryTruncate(value, ipv4PrefixLength, ipv6PrefixLength, destination, out written);
        }
        var prefixLengths = (ipv4PrefixLength << 16) ^ ipv6PrefixLength;
        var slot = CacheSlot.Of(value, SlotBits, prefixLengths);
        if (_inputLengths[slot] == value.Length + 1
            && _prefixLengths[slot] == prefixLengths
            && value.SequenceEqual(_inputs.AsSpan(slot * MaxCachedInput, value.Length)))
        {
            written = _outputLengths[slot];
            if (written < 0)
            {
                written = 0;
                return false;
            }
            if (_outputs.AsSpan(slot * MaxCachedOutput, written).TryCopyTo(destination))
            {
                return true;
            }
        }
        // Prefix lengths out of range throw here, before anything is cached under them.
        var ok = IpTruncation.TryTruncate(value, ipv4PrefixLength, ipv6PrefixLength, destination, out written);
        if (ok && written > MaxCachedOutput)
        {
            return true;
        }
        value.CopyTo(_inputs.AsSpan(slot * MaxCachedInput));
        if (ok)
        {
            destination[..written].CopyTo(_outputs.AsSpan(slot * MaxCachedOutput));
        }
        _outputLengths[slot] = ok ? written : -1;
        _prefixLengths[slot] = prefixLengths;
        _inputLengths[slot] = value.Length + 1;
        return ok;
    }
}
