using System.Text;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>Same-length pseudonyms of serials: keyed, deterministic, as long as the value, upper-case letters and digits.</summary>
public sealed class SameLengthPseudonymTests
{
    private static string Pseudonym(PseudonymizationKey key, string value)
    {
        using var pseudonymizer = new Pseudonymizer(key);
        var destination = new byte[value.Length];
        pseudonymizer.WriteSameLength(Encoding.UTF8.GetBytes(value), destination);
        return Encoding.ASCII.GetString(destination);
    }

    [Theory]
    [InlineData("SERIAL0000000001")]
    [InlineData("SERIAL00000000002")]
    [InlineData("A SERIAL LONGER THAN ONE HMAC BLOCK OF 16")]
    public void Pseudonym_is_as_long_as_the_value_and_alphanumeric(string value)
    {
        var pseudonym = Pseudonym(TestPolicies.Key, value);

        Assert.Equal(value.Length, pseudonym.Length);
        Assert.All(pseudonym, c => Assert.True(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c)));
        Assert.NotEqual(value, pseudonym);
    }

    [Fact]
    public void Same_value_and_key_give_the_same_pseudonym_from_cache_or_not()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        var first = new byte[16];
        var second = new byte[16];
        pseudonymizer.WriteSameLength("SERIAL0000000001"u8, first);
        pseudonymizer.WriteSameLength("SERIAL0000000001"u8, second);

        Assert.Equal(first, second);
        Assert.Equal(Encoding.ASCII.GetString(first), Pseudonym(TestPolicies.Key, "SERIAL0000000001"));
    }

    [Fact]
    public void Another_key_gives_another_pseudonym()
    {
        var otherKey = PseudonymizationKey.FromBytes(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());

        Assert.NotEqual(Pseudonym(TestPolicies.Key, "SERIAL0000000001"), Pseudonym(otherKey, "SERIAL0000000001"));
    }

    [Fact]
    public void Topic_text_and_payload_bytes_give_the_same_pseudonym()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        var fromText = new byte[16];
        pseudonymizer.WriteSameLength("SERIAL0000000001".AsSpan(), fromText);

        Assert.Equal(Pseudonym(TestPolicies.Key, "SERIAL0000000001"), Encoding.ASCII.GetString(fromText));
    }
}
