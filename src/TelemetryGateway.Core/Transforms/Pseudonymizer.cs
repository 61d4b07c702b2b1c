using System.Security.Cryptography;
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
    private readonly IncrementalHash _hmac;
    private readonly byte[] _keyId;

    public Pseudonymizer(PseudonymizationKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _hmac = key.CreateHmac();
        _keyId = key.IdUtf8;
        Length = _keyId.Length + 1 + (DigestBytesShown * 2);
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
        return offset;
    }

    public void Dispose() => _hmac.Dispose();

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
