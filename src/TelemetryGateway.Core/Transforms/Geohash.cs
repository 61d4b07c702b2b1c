using System.Diagnostics.CodeAnalysis;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// Reduces a position to a short geohash (4 characters is a cell of about 39 km by 20 km), or shortens an
/// existing geohash, so only the coarse area is forwarded. Works on UTF-8 spans and never allocates,
/// because it runs for every message on the hot path.
/// </summary>
internal static class Geohash
{
    public const int DefaultLength = 4;

    private const int MaxLength = 12;

    private const int BitsPerCharacter = 5;

    private static ReadOnlySpan<byte> Alphabet => "0123456789bcdefghjkmnpqrstuvwxyz"u8;

    /// <summary>
    /// If value is already a geohash (1..12 characters of the geohash base32 alphabet, case-insensitive), writes its
    /// first <paramref name="length"/> characters lowercased (all of it if shorter). Otherwise, if value is a
    /// "lat,lon" pair (same syntax as <see cref="CoordinateCoarsening.TryCoarsenPair"/>), encodes it as a geohash of
    /// <paramref name="length"/> characters. Otherwise false.
    /// </summary>
    public static bool TryGeohash(ReadOnlySpan<byte> value, int length, Span<byte> destination, out int written)
    {
        ValidateLength(length);
        written = 0;
        if (IsGeohash(value))
        {
            var count = Math.Min(length, value.Length);
            if (destination.Length < count)
            {
                return false;
            }

            for (var i = 0; i < count; i++)
            {
                destination[i] = ToLowerAscii(value[i]);
            }

            written = count;
            return true;
        }

        return CoordinateCoarsening.TryParsePair(value, out var latitude, out var longitude)
            && TryEncode(latitude, longitude, length, destination, out written);
    }

    /// <summary>Encodes coordinates as a geohash of <paramref name="length"/> characters; false if out of range.</summary>
    public static bool TryEncode(double latitude, double longitude, int length, Span<byte> destination, out int written)
    {
        ValidateLength(length);
        written = 0;

        // Negated so that NaN fails the range check too.
        if (!(latitude is >= -90 and <= 90 && longitude is >= -180 and <= 180) || destination.Length < length)
        {
            return false;
        }

        double latitudeMin = -90, latitudeMax = 90, longitudeMin = -180, longitudeMax = 180;

        // Bits alternate between the dimensions, starting with longitude; a value on a midpoint goes to the upper half.
        var isLongitudeBit = true;
        for (var i = 0; i < length; i++)
        {
            var index = 0;
            for (var bit = 0; bit < BitsPerCharacter; bit++)
            {
                index <<= 1;
                if (isLongitudeBit)
                {
                    var middle = (longitudeMin + longitudeMax) / 2;
                    if (longitude >= middle)
                    {
                        index |= 1;
                        longitudeMin = middle;
                    }
                    else
                    {
                        longitudeMax = middle;
                    }
                }
                else
                {
                    var middle = (latitudeMin + latitudeMax) / 2;
                    if (latitude >= middle)
                    {
                        index |= 1;
                        latitudeMin = middle;
                    }
                    else
                    {
                        latitudeMax = middle;
                    }
                }

                isLongitudeBit = !isLongitudeBit;
            }

            destination[i] = Alphabet[index];
        }

        written = length;
        return true;
    }

    private static bool IsGeohash(ReadOnlySpan<byte> value)
    {
        if (value.Length is < 1 or > MaxLength)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!Alphabet.Contains(ToLowerAscii(b)))
            {
                return false;
            }
        }

        return true;
    }

    private static byte ToLowerAscii(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + ('a' - 'A')) : b;

    private static void ValidateLength(int length)
    {
        if (length is < 1 or > MaxLength)
        {
            ThrowLengthOutOfRange(nameof(length));
        }
    }

    [DoesNotReturn]
    private static void ThrowLengthOutOfRange(string parameterName) =>
        throw new ArgumentOutOfRangeException(parameterName, "Geohash length must be between 1 and 12.");
}
