using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using TelemetryGateway.Http.Security;

namespace TelemetryGateway.Http.Tests.Security;

public sealed class ApiKeyAuthenticatorTests
{
    private static readonly ApiKeyAuthenticator s_authenticator = new([Hash("first-key"), Hash("second-key")]);

    [Theory]
    [InlineData("first-key")]
    [InlineData("second-key")]
    public void Accepts_a_configured_key_in_the_api_key_header(string key) =>
        Assert.True(s_authenticator.IsValid(Request(("X-Api-Key", key))));

    [Fact]
    public void Accepts_a_configured_key_as_bearer_token() =>
        Assert.True(s_authenticator.IsValid(Request(("Authorization", "Bearer second-key"))));

    [Fact]
    public void Rejects_a_key_that_is_not_configured() =>
        Assert.False(s_authenticator.IsValid(Request(("X-Api-Key", "first-kez"))));

    [Fact]
    public void Rejects_a_request_without_a_key() =>
        Assert.False(s_authenticator.IsValid(Request()));

    [Fact]
    public void Rejects_basic_authorization() =>
        Assert.False(s_authenticator.IsValid(Request(("Authorization", "Basic Zmlyc3Qta2V5"))));

    [Fact]
    public void Rejects_an_overlong_key() =>
        Assert.False(s_authenticator.IsValid(Request(("X-Api-Key", new string('k', 10_000)))));

    [Fact]
    public void Rejects_the_hash_sent_as_the_key() =>
        Assert.False(s_authenticator.IsValid(Request(("X-Api-Key", Convert.ToHexString(Hash("first-key"))))));

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static HttpRequest Request(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }
        return context.Request;
    }
}
