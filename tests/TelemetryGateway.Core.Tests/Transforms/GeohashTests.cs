using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Transforms;

public sealed class GeohashTests
{
    [Theory]
    [InlineData(57.64911, 10.40744, 11, "u4pruydqqvj")]
    [InlineData(48.137361, 11.575465, 4, "u281")]
    [InlineData(-90, -180, 4, "0000")]
    [InlineData(90, 180, 4, "zzzz")]
    [InlineData(57.64911, 10.40744, 1, "u")]
    public void Encodes_coordinates_to_known_geohashes(double latitude, double longitude, int length, string expected)
    {
        var destination = new byte[16];
        Assert.True(Geohash.TryEncode(latitude, longitude, length, destination, out var written));
        Assert.Equal(expected, Encoding.UTF8.GetString(destination, 0, written));
    }

    [Theory]
    [InlineData(double.NaN, 0)]
    [InlineData(0, double.NaN)]
    [InlineData(90.5, 0)]
    [InlineData(-91, 0)]
    [InlineData(0, 180.5)]
    [InlineData(0, double.NegativeInfinity)]
    public void Rejects_coordinates_out_of_range(double latitude, double longitude)
    {
        Assert.False(Geohash.TryEncode(latitude, longitude, Geohash.DefaultLength, new byte[16], out var written));
        Assert.Equal(0, written);
    }

    [Theory]
    [InlineData("48.137361,11.575465", 4, "u281")]
    [InlineData("57.64911 10.40744", 11, "u4pruydqqvj")]
    [InlineData("57.64911; 10.40744", 6, "u4pruy")]
    public void Encodes_lat_lon_pair(string input, int length, string expected)
    {
        Assert.Equal(expected, ToGeohash(input, length));
    }

    [Theory]
    [InlineData("u4pruydqqvj", 4, "u4pr")]
    [InlineData("U4PRUYDQQVJ", 4, "u4pr")]
    [InlineData("u4pruydqqvj", 11, "u4pruydqqvj")]
    [InlineData("u28", 4, "u28")]
    [InlineData("u4pruydqqvjp", 12, "u4pruydqqvjp")]
    public void Truncates_existing_geohash_and_lowercases_it(string input, int length, string expected)
    {
        Assert.Equal(expected, ToGeohash(input, length));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("u4pruydqqvjpz")]
    [InlineData("u4pr ")]
    [InlineData("91,0")]
    [InlineData("48.1")]
    [InlineData("48.1,11.5,3")]
    public void Rejects_values_that_are_neither_geohash_nor_pair(string input)
    {
        Assert.Null(ToGeohash(input, Geohash.DefaultLength));
    }

    [Fact]
    public void Returns_false_when_destination_is_too_small()
    {
        Span<byte> destination = stackalloc byte[3];
        Assert.False(Geohash.TryGeohash("48.137361,11.575465"u8, Geohash.DefaultLength, destination, out _));
        Assert.False(Geohash.TryGeohash("u4pruydqqvj"u8, Geohash.DefaultLength, destination, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    public void Throws_for_length_out_of_range(int length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Geohash.TryGeohash("u4pr"u8, length, new byte[16], out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => Geohash.TryEncode(48.1, 11.5, length, new byte[16], out _));
    }

    [Fact]
    public void Does_not_allocate()
    {
        var destination = new byte[16];
        var ok = true;
        var allocated = Allocations.SteadyState(() => ok &= RunAll(destination), rounds: 1000, warmUpRounds: 1);
        Assert.True(ok);
        Assert.Equal(0, allocated);
    }

    private static bool RunAll(Span<byte> destination) =>
        Geohash.TryGeohash("48.137361,11.575465"u8, Geohash.DefaultLength, destination, out _)
        & Geohash.TryGeohash("U4PRUYDQQVJ"u8, Geohash.DefaultLength, destination, out _)
        & Geohash.TryEncode(57.64911, 10.40744, 11, destination, out _)
        & !Geohash.TryGeohash("hello"u8, Geohash.DefaultLength, destination, out _);

    private static string? ToGeohash(string input, int length)
    {
        var destination = new byte[16];
        return Geohash.TryGeohash(Encoding.UTF8.GetBytes(input), length, destination, out var written)
            ? Encoding.UTF8.GetString(destination, 0, written)
            : null;
    }
}
