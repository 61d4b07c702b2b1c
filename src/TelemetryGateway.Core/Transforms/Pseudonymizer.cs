using System.Security.Cryptography;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Keys;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// Keyed pseudonyms: HMAC-SHA-256 of the value, written as <c>{keyId}.{32 hex digits}</c> (the first 128 bits).
/// The same value under the same key always gives the same pseudonym, so joins within a key epoch keep working;
/// without the key a pseudonym can be neither reversed nor confirmed. One instance per thread: the reused
/// <see cref="IncrementalHash"/> is what keeps this allocation-free.
/// </summary>
public sealed class Pseudonymizer : IDisposable
{
    private const int DigestBytesShown = 16;

    // A small direct-mapped cache of recent pseudonyms: a device repeats its serial in every message (topic and
    // payload), and an HMAC costs far more than the rest of a message's processing. Inputs up to 64 bytes are cached.
    private const int CacheSlotBits = 7;
    private const int CacheSlots = 1 << CacheSlotBits;
    private const int MaxCachedInput = 64;

    private readonly IncrementalHash _hmac;
    private readonly byte[] _keyId;
    private readonly byte[] _cachedInputs = new byte[CacheSlots * MaxCachedInput];
    private readonly int[] _cachedLengths = new int[CacheSlots];
    private readonly byte[] _cachedOutputs;

    public Pseudonymizer(PseudonymizationKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _hmac = key.CreateHmac();
        _keyId = key.IdUtf8;
        Length = _keyId.Length + 1 + (DigestBytesShown * 2);
        _cachedOutputs = new byte[CacheSlots * Length];
    }

    /// <summary>Length in bytes of every pseudonym this instance writes.</summary>
    public int Length { get; }

    /// <summary>Writes the pseudonym of <paramref name="value"/>; returns the bytes written (<see cref="Length"/>).</summary>
    public int Write(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException("Destination is shorter than a pseudonym.", nameof(destination));
        }
        var slot = -1;
        if (value.Length <= MaxCachedInput)
        {
            slot = CacheSlot.Of(value, CacheSlotBits);
            if (_cachedLengths[slot] == value.Length + 1 && value.SequenceEqual(_cachedInputs.AsSpan(slot * MaxCachedInput, value.Length)))
            {
                _cachedOutputs.AsSpan(slot * Length, Length).CopyTo(destination);
                return Length;
            }
        }
        Compute(value, destination);
        if (slot >= 0)
        {
            value.CopyTo(_cachedInputs.AsSpan(slot * MaxCachedInput));
            destination[..Length].CopyTo(_cachedOutputs.AsSpan(slot * Length));
            _cachedLengths[slot] = value.Length + 1;
        }
        return Length;
    }

    private void Compute(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        Span<byte> digest = stackalloc byte[32];
        _hmac.AppendData(value);
        _hmac.GetHashAndReset(digest);
        _keyId.CopyTo(destination);
        var offset = _keyId.Length;
        destination[offset++] = (byte)'.';
        for (var i = 0; i < DigestBytesShown; i++)
        {
            destination[offset++] = HexDigit(digest[i] >> 4);
            destination[offset++] = HexDigit(digest[i] & 0xF);
        }
    }

    public void Dispose() => _hmac.Dispose();

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
