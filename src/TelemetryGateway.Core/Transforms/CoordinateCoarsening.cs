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

    private static bool TryParseFinite(ReadOnlySpan<byte> value, SearchValues<byte> allowed, NumberStyles style, out double number)
    {
        number = 0;
        return !value.IsEmpty
            && !value.ContainsAnyExcept(allowed)
            && double.TryParse(value, style, CultureInfo.InvariantCulture, out number)
            && double.IsFinite(number);
    }

    private static bool TryFormatRounded(double number, int decimals, Span<byte> destination, out int written)
    {
        var rounded = Math.Round(number, decimals, MidpointRounding.AwayFromZero);

        // Small negatives round to -0.0, which would be written "-0.0"; a coarse position has no sign at zero.
        if (rounded == 0)
        {
            rounded = 0;
        }

        Span<char> format = stackalloc char[2];
        format[0] = 'F';
        format[1] = (char)('0' + decimals);
        return rounded.TryFormat(destination, out written, format, CultureInfo.InvariantCulture);
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
