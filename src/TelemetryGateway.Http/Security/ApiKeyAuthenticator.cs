using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Security;

/// <summary>
/// Checks the API key of a request (<c>X-Api-Key</c> or <c>Authorization: Bearer</c>) against the configured SHA-256
/// hashes. The key is hashed and compared with every configured hash in constant time, so neither the comparison
/// nor which hash matched shows in the response time. Keys are never logged or kept.
/// </summary>
internal sealed class ApiKeyAuthenticator
{
    private const int MaxKeyChars = 512;
    private readonly byte[][] _hashes;

    public ApiKeyAuthenticator(IReadOnlyList<byte[]> hashes) => _hashes = [.. hashes];

    public bool IsValid(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var key = PresentedKey(request);
        if (key.IsEmpty || key.Length > MaxKeyChars)
        {
            return false;
        }
        Span<byte> utf8 = stackalloc byte[MaxKeyChars * 3];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        CryptographicOperations.ZeroMemory(utf8[..length]);
        var match = false;
        foreach (var expected in _hashes)
        {
            // No early exit: every configured hash is compared.
            match |= CryptographicOperations.FixedTimeEquals(hash, expected);
        }
        return match;
    }

    private static ReadOnlySpan<char> PresentedKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue(IngressHeaders.ApiKey, out var apiKey) && apiKey.Count == 1)
        {
            return apiKey[0].AsSpan().Trim();
        }
        if (request.Headers.Authorization is { Count: 1 } authorization)
        {
            var value = authorization[0].AsSpan().Trim();
            const string Bearer = "Bearer ";
            if (value.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
            {
                return value[Bearer.Length..].Trim();
            }
        }
        return [];
    }
}
