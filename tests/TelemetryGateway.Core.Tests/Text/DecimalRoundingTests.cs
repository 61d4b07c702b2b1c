using System.Globalization;
using System.Text;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>The digit rounding of coordinates in log text writes exactly what the coarsening transform writes.</summary>
public sealed class DecimalRoundingTests
{
    [Theory]
    [InlineData("48.137361", 1, "48.1")]
    [InlineData("-0.127670", 1, "-0.1")]
    [InlineData("-0.04", 1, "0.0")]
    [InlineData("99.96", 1, "100.0")]
    [InlineData("179.99999", 2, "180.00")]
    [InlineData("48", 2, "48.00")]
    [InlineData("048.16", 1, "48.2")]
    [InlineData("11.575465", 0, "12")]
    public void Rounds_away_from_zero_on_the_digits(string number, int decimals, string expected)
    {
        var destination = new byte[32];

        Assert.True(DecimalRounding.TryRound(Encoding.ASCII.GetBytes(number), decimals, destination, out var written));
        Assert.Equal(expected, Encoding.ASCII.GetString(destination, 0, written));
    }

    [Theory]
    [InlineData("48.15", 1)]
    [InlineData("48.1234567890123", 1)]
    [InlineData("1e5", 1)]
    [InlineData("1234.5", 1)]
    public void Declines_midpoints_long_and_unusual_numbers(string number, int decimals)
    {
        Assert.False(DecimalRounding.TryRound(Encoding.ASCII.GetBytes(number), decimals, new byte[32], out _));
    }

    [Fact]
    public void Agrees_with_coordinate_coarsening_on_random_numbers()
    {
        var random = new Random(20261124);
        var mine = new byte[32];
        var theirs = new byte[32];
        for (var i = 0; i < 100_000; i++)
        {
            var integer = random.Next(0, 181).ToString(CultureInfo.InvariantCulture);
            var fractionLength = random.Next(0, 10);
            var fraction = string.Concat(Enumerable.Range(0, fractionLength).Select(_ => (char)('0' + random.Next(10))));
            var text = (random.Next(2) == 0 ? "-" : string.Empty) + integer + (fractionLength > 0 ? "." + fraction : string.Empty);
            var decimals = random.Next(0, 7);
            var bytes = Encoding.ASCII.GetBytes(text);

            if (DecimalRounding.TryRound(bytes, decimals, mine, out var written))
            {
                Assert.True(CoordinateCoarsening.TryCoarsenNumber(bytes, decimals, theirs, out var expectedLength));
                Assert.Equal(Encoding.ASCII.GetString(theirs, 0, expectedLength), Encoding.ASCII.GetString(mine, 0, written));
            }
        }
    }
}
