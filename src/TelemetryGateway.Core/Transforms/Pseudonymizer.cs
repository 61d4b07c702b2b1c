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

    // Same-length pseudonyms (SOLIX serials) have a cache of their own: their outputs vary in length.
    private readonly byte[] _sameLengthInputs = new byte[CacheSlots * MaxCachedInput];
    private readonly int[] _sameLengthLengths = new int[CacheSlots];
    private readonly byte[] _sameLengthOutputs = new byte[CacheSlots * MaxCachedInput];

    public Pseudonymizer(PseudonymizationKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _hmac = key.CreateHmac();
        _keyId = key.IdUtf8;
        Length = _keyId.Length + 1 + (DigestBytesShown * 2);
        _cachedOutputs = new byte[CacheSlots * Length];
    }

    /// <summary>
    /// The pseudonym of <paramref name="value"/> under <paramref name="key"/> as text, as outputs carry it: for reports
    /// and audit entries, not the hot path (it allocates).
    /// </summary>
    public static string Of(PseudonymizationKey key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var pseudonymizer = new Pseudonymizer(key);
        var output = new byte[pseudonymizer.Length];
        return System.Text.Encoding.ASCII.GetString(output, 0, pseudonymizer.Write(System.Text.Encoding.UTF8.GetBytes(value), output));
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

    /// <summary>
    /// Writes a pseudonym of <paramref name="value"/> as long as the value itself, in upper-case letters and digits
    /// (like a SOLIX serial number), derived from the same keyed HMAC. Used where the length is part of the format:
    /// inside SOLIX binary messages, where offsets must stay valid, and everywhere else the same serial appears in a
    /// SOLIX output (topic, envelope), so that one device has one pseudonym. It carries no key id (there is no room);
    /// the policy tag of the output tells the epochs apart. Returns <c>value.Length</c>.
    /// </summary>
    public int WriteSameLength(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        if (destination.Length < value.Length)
        {
            throw new ArgumentException("Destination is shorter than the value.", nameof(destination));
        }
        var slot = -1;
        if (value.Length <= MaxCachedInput)
        {
            var hash = new HashCode();
            hash.AddBytes(value);
            slot = hash.ToHashCode() & (CacheSlots - 1);
            if (_sameLengthLengths[slot] == value.Length + 1 && value.SequenceEqual(_sameLengthInputs.AsSpan(slot * MaxCachedInput, value.Length)))
            {
                _sameLengthOutputs.AsSpan(slot * MaxCachedInput, value.Length).CopyTo(destination);
                return value.Length;
            }
        }
        ComputeSameLength(value, destination[..value.Length]);
        if (slot >= 0)
        {
            value.CopyTo(_sameLengthInputs.AsSpan(slot * MaxCachedInput));
            destination[..value.Length].CopyTo(_sameLengthOutputs.AsSpan(slot * MaxCachedInput));
            _sameLengthLengths[slot] = value.Length + 1;
        }
        return value.Length;
    }

    /// <summary>
    /// <see cref="WriteSameLength(ReadOnlySpan{byte}, Span{byte})"/> for a value in UTF-16 (a topic capture): the
    /// pseudonym of its UTF-8 bytes, as many bytes long as those. Returns the bytes written.
    /// </summary>
    public int WriteSameLength(ReadOnlySpan<char> value, Span<byte> destination)
    {
        const int MaxStackBytes = 256;
        var byteCount = System.Text.Encoding.UTF8.GetByteCount(value);
        if (byteCount <= MaxStackBytes)
        {
            Span<byte> utf8 = stackalloc byte[MaxStackBytes];
            var length = System.Text.Encoding.UTF8.GetBytes(value, utf8);
            return WriteSameLength(utf8[..length], destination);
        }
        // Topic levels this long are rare (and never serials): a pooled buffer rather than a failure.
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            var length = System.Text.Encoding.UTF8.GetBytes(value, rented);
            return WriteSameLength(rented.AsSpan(0, length), destination);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void ComputeSameLength(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        Span<byte> digest = stackalloc byte[32];
        Span<byte> blockNumber = stackalloc byte[1];
        // One HMAC block gives 16 characters (two digest bytes each, so the modulo bias is negligible); longer values
        // take further blocks, each over the value and its block number, domain-separated from the plain pseudonym.
        for (var block = 0; block * 16 < destination.Length; block++)
        {
            _hmac.AppendData("solix-same-length"u8);
            blockNumber[0] = (byte)block;
            _hmac.AppendData(blockNumber);
            _hmac.AppendData(value);
            _hmac.GetHashAndReset(digest);
            var start = block * 16;
            var count = Math.Min(16, destination.Length - start);
            for (var i = 0; i < count; i++)
            {
                var word = (digest[2 * i] << 8) | digest[(2 * i) + 1];
                destination[start + i] = (byte)Alphabet[word % Alphabet.Length];
            }
        }
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
