namespace TelemetryGateway.Core.Text;

/// <summary>
/// Rounds a short decimal text (<c>-?digits(.digits)?</c>) to a number of decimals on its digits, without a
/// double: the common case of coordinate coarsening in log text, written exactly as
/// <see cref="Transforms.CoordinateCoarsening.TryCoarsenNumber"/> writes it.
/// </summary>
/// <remarks>
/// With at most 12 significant digits the double that coarsening rounds lies much closer to the text's value than
/// any rounding boundary not exactly on the text, so both round alike; an exact midpoint ("48.15" to one decimal)
/// and anything else is declined, and the caller then takes the general coarsening.
/// </remarks>
internal static class DecimalRounding
{
    private const int MaxSignificantDigits = 12;
    private const int MaxIntegerDigits = 3;
    private const int MaxDecimals = 6;

    public static bool TryRound(ReadOnlySpan<byte> number, int decimals, Span<byte> destination, out int written)
    {
        written = 0;
        var negative = !number.IsEmpty && number[0] == '-';
        var body = negative ? number[1..] : number;
        var dot = body.IndexOf((byte)'.');
        var integer = dot < 0 ? body : body[..dot];
        var fraction = dot < 0 ? [] : body[(dot + 1)..];
        if (integer.IsEmpty || integer.Length > MaxIntegerDigits || (dot >= 0 && fraction.IsEmpty)
            || integer.Length + fraction.Length > MaxSignificantDigits || (uint)decimals > MaxDecimals
            || integer.ContainsAnyExceptInRange((byte)'0', (byte)'9') || fraction.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
        {
            return false;
        }

        var roundUp = false;
        if (fraction.Length > decimals)
        {
            var next = fraction[decimals];
            if (next == '5' && fraction[(decimals + 1)..].ContainsAnyExcept((byte)'0') is false)
            {
                return false;
            }

            roundUp = next >= '5';
        }

        // A leading '0' takes the carry of "99.96" -> "100.0".
        Span<byte> digits = stackalloc byte[1 + MaxIntegerDigits + MaxDecimals];
        var count = 0;
        digits[count++] = (byte)'0';
        integer.CopyTo(digits[count..]);
        count += integer.Length;
        for (var k = 0; k < decimals; k++)
        {
            digits[count++] = k < fraction.Length ? fraction[k] : (byte)'0';
        }

        if (roundUp)
        {
            var k = count - 1;
            while (digits[k] == '9')
            {
                digits[k--] = (byte)'0';
            }

            digits[k]++;
        }

        var integerDigits = count - decimals;
        var start = 0;
        while (start < integerDigits - 1 && digits[start] == '0')
        {
            start++;
        }

        var zero = digits[start..count].ContainsAnyExcept((byte)'0') is false;
        var length = (negative && !zero ? 1 : 0) + (integerDigits - start) + (decimals > 0 ? decimals + 1 : 0);
        if (length > destination.Length)
        {
            return false;
        }

        var w = 0;
        if (negative && !zero)
        {
            destination[w++] = (byte)'-';
        }

        digits[start..integerDigits].CopyTo(destination[w..]);
        w += integerDigits - start;
        if (decimals > 0)
        {
            destination[w++] = (byte)'.';
            digits[integerDigits..count].CopyTo(destination[w..]);
            w += decimals;
        }

        written = w;
        return true;
    }
}
