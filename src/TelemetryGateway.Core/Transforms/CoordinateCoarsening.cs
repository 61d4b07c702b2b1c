using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// Rounds coordinates to a fixed number of decimals, so a forwarded position only locates an area
/// (one decimal is about 11 km of latitude) instead of a person. Works on UTF-8 spans and never
/// allocates, because it runs for every message on the hot path.
/// </summary>
internal static class CoordinateCoarsening
{
    public const int DefaultDecimals = 1;

    private const int MaxDecimals = 8;

    private const NumberStyles JsonNumberStyle = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;

    private const NumberStyles DecimalStyle = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint;

    // Checked before double.TryParse, which would otherwise also accept "NaN", "Infinity" and trailing NULs.
    private static readonly SearchValues<byte> JsonNumberBytes = SearchValues.Create("0123456789+-.eE"u8);

    private static readonly SearchValues<byte> DecimalBytes = SearchValues.Create("0123456789+-."u8);

    /// <summary>
    /// value is the raw text of a JSON number (e.g. 48.137361, -0.12767, 1.5e1). Writes the number rounded to
    /// <paramref name="decimals"/> places (away from zero on midpoints), formatted invariant with exactly that many
    /// decimals and no exponent. Returns false if it is not a finite number.
    /// </summary>
    public static bool TryCoarsenNumber(ReadOnlySpan<byte> value, int decimals, Span<byte> destination, out int written)
    {
        ValidateDecimals(decimals);
        written = 0;
        return TryParseFinite(value, JsonNumberBytes, JsonNumberStyle, out var number)
            && TryFormatRounded(number, decimals, destination, out written);
    }

    /// <summary>
    /// value is a "lat,lon" string (see <see cref="TryParsePair"/>). Writes "lat,lon" (comma, no space), each
    /// coarsened as in <see cref="TryCoarsenNumber"/>. Returns false if it is not a pair or out of range.
    /// </summary>
    public static bool TryCoarsenPair(ReadOnlySpan<byte> value, int decimals, Span<byte> destination, out int written)
    {
        ValidateDecimals(decimals);
        written = 0;
        if (!TryParsePair(value, out var latitude, out var longitude)
            || !TryFormatRounded(latitude, decimals, destination, out var latitudeLength)
            || latitudeLength >= destination.Length)
        {
            return false;
        }

        destination[latitudeLength] = (byte)',';
        if (!TryFormatRounded(longitude, decimals, destination[(latitudeLength + 1)..], out var longitudeLength))
        {
            return false;
        }

        written = latitudeLength + 1 + longitudeLength;
        return true;
    }

    /// <summary>
    /// Parses "lat,lon": two decimal numbers separated by ',' or ';' with optional ASCII spaces around the
    /// separator, or by a single space. Latitude must be within [-90, 90] and longitude within [-180, 180].
    /// </summary>
    internal static bool TryParsePair(ReadOnlySpan<byte> value, out double latitude, out double longitude)
    {
        longitude = 0;
        ReadOnlySpan<byte> first;
        ReadOnlySpan<byte> second;
        var separator = value.IndexOfAny((byte)',', (byte)';');
        if (separator >= 0)
        {
            first = value[..separator].TrimEnd((byte)' ');
            second = value[(separator + 1)..].TrimStart((byte)' ');
        }
        else
        {
            separator = value.IndexOf((byte)' ');
            if (separator < 0 || value.LastIndexOf((byte)' ') != separator)
            {
                latitude = 0;
                return false;
            }

            first = value[..separator];
            second = value[(separator + 1)..];
        }

        return TryParseFinite(first, DecimalBytes, DecimalStyle, out latitude)
            && TryParseFinite(second, DecimalBytes, DecimalStyle, out longitude)
            && latitude is >= -90 and <= 90
            && longitude is >= -180 and <= 180;
    }

    // Powers of ten that a double holds exactly: dividing an exact integer by one rounds once, correctly.
    private static readonly double[] ExactPowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    // Up to 15 digits the digits form an integer below 2^53, which a double holds exactly.
    private const int MaxExactDigits = 15;

    // Below this, a value rounded to at most 8 decimals, times 10^8, is an exact integer, and the nearest double to
    // that integer over 10^decimals formats back to the same digits.
    private const double MaxDirectlyFormatted = 1e6;

    private static bool TryParseFinite(ReadOnlySpan<byte> value, SearchValues<byte> allowed, NumberStyles style, out double number)
    {
        if (TryParsePlainDecimal(value, out number))
        {
            return true;
        }
        number = 0;
        return !value.IsEmpty
            && !value.ContainsAnyExcept(allowed)
            && double.TryParse(value, style, CultureInfo.InvariantCulture, out number)
            && double.IsFinite(number);
    }

    /// <summary>
    /// The common case, <c>-?digits(.digits)?</c> with at most 15 digits, parsed to the same double as
    /// <see cref="double.TryParse(ReadOnlySpan{byte}, NumberStyles, IFormatProvider?, out double)"/> gives, without
    /// its general machinery. False (not an error) for anything else, which then takes the general parser.
    /// </summary>
    private static bool TryParsePlainDecimal(ReadOnlySpan<byte> value, out double number)
    {
        number = 0;
        var i = value.Length > 0 && value[0] == '-' ? 1 : 0;
        var digitsStart = i;
        ulong mantissa = 0;
        var fractionDigits = -1;
        for (; i < value.Length; i++)
        {
            var digit = (uint)(value[i] - '0');
            if (digit <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                if (fractionDigits >= 0)
                {
                    fractionDigits++;
                }
            }
            else if (value[i] == '.' && fractionDigits < 0 && i > digitsStart)
            {
                fractionDigits = 0;
            }
            else
            {
                return false;
            }
        }
        var digits = value.Length - digitsStart - (fractionDigits >= 0 ? 1 : 0);
        if (digits == 0 || digits > MaxExactDigits || fractionDigits == 0)
        {
            return false;
        }
        number = mantissa / ExactPowersOfTen[Math.Max(fractionDigits, 0)];
        if (digitsStart == 1)
        {
            number = -number;
        }
        return true;
    }

    private static bool TryFormatRounded(double number, int decimals, Span<byte> destination, out int written)
    {
        var rounded = Math.Round(number, decimals, MidpointRounding.AwayFromZero);

        // Small negatives round to -0.0, which would be written "-0.0"; a coarse position has no sign at zero.
        if (rounded == 0)
        {
            rounded = 0;
        }

        if (Math.Abs(rounded) < MaxDirectlyFormatted)
        {
            return TryFormatScaled((long)Math.Round(rounded * ExactPowersOfTen[decimals]), decimals, destination, out written);
        }

        Span<char> format = stackalloc char[2];
        format[0] = 'F';
        format[1] = (char)('0' + decimals);
        return rounded.TryFormat(destination, out written, format, CultureInfo.InvariantCulture);
    }

    /// <summary>Writes <paramref name="scaled"/> / 10^<paramref name="decimals"/> with exactly that many decimals, as "F" formatting does.</summary>
    private static bool TryFormatScaled(long scaled, int decimals, Span<byte> destination, out int written)
    {
        written = 0;
        var magnitude = (ulong)Math.Abs(scaled);
        var integerDigits = Math.Max(1, CountDigits(magnitude) - decimals);
        var length = (scaled < 0 ? 1 : 0) + integerDigits + (decimals > 0 ? decimals + 1 : 0);
        if (length > destination.Length)
        {
            return false;
        }
        var position = length;
        for (var d = 0; d < decimals; d++)
        {
            destination[--position] = (byte)('0' + (magnitude % 10));
            magnitude /= 10;
        }
        if (decimals > 0)
        {
            destination[--position] = (byte)'.';
        }
        for (var d = 0; d < integerDigits; d++)
        {
            destination[--position] = (byte)('0' + (magnitude % 10));
            magnitude /= 10;
        }
        if (scaled < 0)
        {
            destination[0] = (byte)'-';
        }
        written = length;
        return true;
    }

    private static int CountDigits(ulong value)
    {
        var digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }
        return digits;
    }

    private static void ValidateDecimals(int decimals)
    {
        if ((uint)decimals > MaxDecimals)
        {
            ThrowDecimalsOutOfRange(nameof(decimals));
        }
    }

    [DoesNotReturn]
    private static void ThrowDecimalsOutOfRange(string parameterName) =>
        throw new ArgumentOutOfRangeException(parameterName, "Decimals must be between 0 and 8.");
}
