using System.Globalization;
using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Transforms;

public sealed class CoordinateCoarseningTests
{
    private const int Decimals = CoordinateCoarsening.DefaultDecimals;

    [Theory]
    [InlineData("48.137361", "48.1")]
    [InlineData("-0.12767", "-0.1")]
    [InlineData("52.51966", "52.5")]
    [InlineData("11.575465", "11.6")]
    [InlineData("90", "90.0")]
    [InlineData("-180", "-180.0")]
    public void Rounds_number_to_one_decimal(string input, string expected)
    {
        Assert.Equal(expected, CoarsenNumber(input, Decimals));
    }

    [Theory]
    [InlineData("1.5e1", "15.0")]
    [InlineData("4.8137361E1", "48.1")]
    [InlineData("-1.2767e-1", "-0.1")]
    public void Writes_exponent_input_without_exponent(string input, string expected)
    {
        Assert.Equal(expected, CoarsenNumber(input, Decimals));
    }

    [Theory]
    [InlineData(0, "48")]
    [InlineData(2, "48.14")]
    [InlineData(3, "48.137")]
    [InlineData(8, "48.13736100")]
    public void Rounds_number_to_requested_decimals(int decimals, string expected)
    {
        Assert.Equal(expected, CoarsenNumber("48.137361", decimals));
    }

    [Theory]
    [InlineData("0.25", 1, "0.3")]
    [InlineData("-0.25", 1, "-0.3")]
    [InlineData("2.5", 0, "3")]
    [InlineData("-2.5", 0, "-3")]
    public void Rounds_midpoints_away_from_zero(string input, int decimals, string expected)
    {
        Assert.Equal(expected, CoarsenNumber(input, decimals));
    }

    [Theory]
    [InlineData("-0.04", 1, "0.0")]
    [InlineData("-0.0", 1, "0.0")]
    [InlineData("-0", 1, "0.0")]
    [InlineData("-0.4", 0, "0")]
    [InlineData("-0.000000001", 8, "0.00000000")]
    public void Writes_zero_without_a_negative_sign(string input, int decimals, string expected)
    {
        Assert.Equal(expected, CoarsenNumber(input, decimals));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData(" 48.1")]
    [InlineData("48.1 ")]
    [InlineData("48.1,11.5")]
    [InlineData("0x10")]
    [InlineData("1,5")]
    [InlineData("1.2.3")]
    [InlineData("--1")]
    public void Rejects_values_that_are_not_finite_numbers(string input)
    {
        Assert.Null(CoarsenNumber(input, Decimals));
    }

    [Theory]
    [InlineData("48.137361,11.575465", "48.1,11.6")]
    [InlineData("48.137361, 11.575465", "48.1,11.6")]
    [InlineData("48.137361 , 11.575465", "48.1,11.6")]
    [InlineData("48.137361;11.575465", "48.1,11.6")]
    [InlineData("48.137361 ; 11.575465", "48.1,11.6")]
    [InlineData("48.137361 11.575465", "48.1,11.6")]
    [InlineData("-33.8688,151.2093", "-33.9,151.2")]
    [InlineData("+52.51966,-0.12767", "52.5,-0.1")]
    public void Coarsens_pair_with_any_accepted_separator(string input, string expected)
    {
        Assert.Equal(expected, CoarsenPair(input, Decimals));
    }

    [Fact]
    public void Coarsens_pair_to_requested_decimals()
    {
        Assert.Equal("48.14,11.58", CoarsenPair("48.137361,11.575465", 2));
    }

    [Fact]
    public void Writes_zero_in_pair_without_a_negative_sign()
    {
        Assert.Equal("0.0,0.0", CoarsenPair("-0.04,-0.04", Decimals));
    }

    [Theory]
    [InlineData("90,180", "90.0,180.0")]
    [InlineData("-90,-180", "-90.0,-180.0")]
    public void Accepts_pair_on_range_boundaries(string input, string expected)
    {
        Assert.Equal(expected, CoarsenPair(input, Decimals));
    }

    [Theory]
    [InlineData("90.1,0")]
    [InlineData("-90.5,0")]
    [InlineData("0,180.01")]
    [InlineData("0,-181")]
    public void Rejects_pair_out_of_range(string input)
    {
        Assert.Null(CoarsenPair(input, Decimals));
    }

    [Theory]
    [InlineData("48.1")]
    [InlineData("48.1,")]
    [InlineData(",11.5")]
    [InlineData("48.1,,11.5")]
    [InlineData("48.1,11.5,3")]
    [InlineData("48.1  11.5")]
    [InlineData(" 48.1,11.5")]
    [InlineData("48.1,11.5 ")]
    [InlineData("48.1\t11.5")]
    [InlineData("a,b")]
    [InlineData("NaN,1")]
    [InlineData("4.8e1,11.5")]
    [InlineData("")]
    public void Rejects_malformed_pair(string input)
    {
        Assert.Null(CoarsenPair(input, Decimals));
    }

    [Fact]
    public void Returns_false_when_destination_is_too_small()
    {
        Span<byte> destination = stackalloc byte[5];
        Assert.False(CoordinateCoarsening.TryCoarsenPair("48.137361,11.575465"u8, Decimals, destination, out var written));
        Assert.Equal(0, written);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(9)]
    public void Throws_for_decimals_out_of_range(int decimals)
    {
        Assert.Throws<ArgumentOutOfRangeException>(
            () => CoordinateCoarsening.TryCoarsenNumber("48.1"u8, decimals, new byte[64], out _));
        Assert.Throws<ArgumentOutOfRangeException>(
            () => CoordinateCoarsening.TryCoarsenPair("48.1,11.5"u8, decimals, new byte[64], out _));
    }

    [Fact]
    public void Agrees_with_framework_parsing_rounding_and_formatting()
    {
        // The plain-decimal fast path must give what double.Parse, Math.Round and "F" formatting give, midpoints included.
        var random = new Random(20251125);
        for (var i = 0; i < 200_000; i++)
        {
            var integerDigits = random.Next(0, 9);
            var fractionDigits = random.Next(0, 9);
            var text = (random.Next(2) == 0 ? "-" : "")
                + (integerDigits == 0 ? "0" : random.NextInt64(10_000_000, 100_000_000).ToString(CultureInfo.InvariantCulture)[..integerDigits])
                + (fractionDigits == 0 ? "" : "." + random.NextInt64(0, 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture)[..fractionDigits]);
            var decimals = random.Next(0, 9);
            var rounded = Math.Round(double.Parse(text, CultureInfo.InvariantCulture), decimals, MidpointRounding.AwayFromZero);
            var expected = (rounded == 0 ? 0 : rounded).ToString("F" + decimals, CultureInfo.InvariantCulture);
            Assert.Equal(expected, CoarsenNumber(text, decimals));
        }
    }

    [Fact]
    public void Does_not_allocate()
    {
        var destination = new byte[64];
        var ok = true;
        var allocated = Allocations.SteadyState(() => ok &= RunAll(destination), rounds: 1000, warmUpRounds: 1);
        Assert.True(ok);
        Assert.Equal(0, allocated);
    }

    private static bool RunAll(Span<byte> destination) =>
        CoordinateCoarsening.TryCoarsenNumber("48.137361"u8, Decimals, destination, out _)
        & CoordinateCoarsening.TryCoarsenNumber("-1.2767e-1"u8, 8, destination, out _)
        & CoordinateCoarsening.TryCoarsenPair("48.137361, 11.575465"u8, Decimals, destination, out _)
        & CoordinateCoarsening.TryCoarsenPair("-0.04 -0.04"u8, 0, destination, out _)
        & !CoordinateCoarsening.TryCoarsenNumber("NaN"u8, Decimals, destination, out _);

    private static string? CoarsenNumber(string input, int decimals)
    {
        var destination = new byte[64];
        return CoordinateCoarsening.TryCoarsenNumber(Encoding.UTF8.GetBytes(input), decimals, destination, out var written)
            ? Encoding.UTF8.GetString(destination, 0, written)
            : null;
    }

    private static string? CoarsenPair(string input, int decimals)
    {
        var destination = new byte[64];
        return CoordinateCoarsening.TryCoarsenPair(Encoding.UTF8.GetBytes(input), decimals, destination, out var written)
            ? Encoding.UTF8.GetString(destination, 0, written)
            : null;
    }
}
