using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Mqtt.Tests.Security;

public sealed class PasswordHashTests
{
    [Fact]
    public void Hash_verifies_the_same_password()
    {
        var hash = PasswordHash.Create("correct horse", PasswordHash.MinimumIterations);
        Assert.True(PasswordHash.Verify("correct horse", hash));
    }

    [Fact]
    public void Hash_refuses_another_password()
    {
        var hash = PasswordHash.Create("correct horse", PasswordHash.MinimumIterations);
        Assert.False(PasswordHash.Verify("correct horsf", hash));
    }

    [Fact]
    public void Two_hashes_of_one_password_differ_by_their_salt()
    {
        Assert.NotEqual(PasswordHash.Create("pw", PasswordHash.MinimumIterations), PasswordHash.Create("pw", PasswordHash.MinimumIterations));
    }

    [Fact]
    public void Default_hash_is_pbkdf2_sha256_with_600000_iterations()
    {
        Assert.StartsWith("pbkdf2-sha256$600000$", PasswordHash.Create("pw"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain-text-password")]
    [InlineData("pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("pbkdf2-sha256$600000$not-base64$AAAA")]
    [InlineData("md5$600000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public void Malformed_or_weak_hash_is_refused(string encoded)
    {
        Assert.False(PasswordHash.IsWellFormed(encoded));
        Assert.False(PasswordHash.Verify("pw", encoded));
    }
}
