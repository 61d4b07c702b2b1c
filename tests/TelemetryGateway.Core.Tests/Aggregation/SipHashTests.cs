using TelemetryGateway.Core.Aggregation;

namespace TelemetryGateway.Core.Tests.Aggregation;

/// <summary>The device digest of aggregate windows against the SipHash-2-4 paper's vectors (key 00..0f, message 00..n-1).</summary>
public sealed class SipHashTests
{
    private const ulong K0 = 0x0706050403020100UL;
    private const ulong K1 = 0x0f0e0d0c0b0a0908UL;

    [Theory]
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(1, 0x74f839c593dc67fdUL)]
    [InlineData(2, 0x0d6c8009d9a94f5aUL)]
    [InlineData(15, 0xa129ca6149be45e5UL)]
    [InlineData(32, 0x7127512f72f27cceUL)]
    public void Matches_the_reference_vectors(int length, ulong expected)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();

        Assert.Equal(expected, SipHash.Hash(K0, K1, message));
    }

    [Fact]
    public void Another_key_gives_another_digest_of_the_same_device()
    {
        var device = "SERIAL00000001"u8;

        Assert.NotEqual(SipHash.Hash(K0, K1, device), SipHash.Hash(K0 + 1, K1, device));
    }
}
