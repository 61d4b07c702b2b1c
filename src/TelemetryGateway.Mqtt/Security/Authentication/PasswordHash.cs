using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TelemetryGateway.Mqtt.Security.Authentication;

/// <summary>
/// A salted, slow password hash: PBKDF2-HMAC-SHA256, 600,000 iterations by default (OWASP's 2023 figure), 16-byte salt,
/// 32-byte key, written as <c>pbkdf2-sha256$ITERATIONS$SALT_BASE64$HASH_BASE64</c> so the iteration count can grow later
/// without invalidating stored hashes.
/// </summary>
internal static class PasswordHash
{
    public const int DefaultIterations = 600_000;
    public const int MinimumIterations = 100_000;
    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    public static string Create(ReadOnlySpan<char> password, int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, MinimumIterations);
        Span<byte> salt = stackalloc byte[SaltBytes];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashBytes];
        Derive(password, salt, iterations, hash);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="encoded"/> is well formed (scheme, iteration count, salt and hash sizes).</summary>
    public static bool IsWellFormed(string? encoded) => TryParse(encoded, out _, out _, out _);

    /// <summary>Checks <paramref name="password"/> against <paramref name="encoded"/> in time independent of where they differ.</summary>
    public static bool Verify(ReadOnlySpan<char> password, string encoded)
    {
        if (!TryParse(encoded, out var iterations, out var salt, out var expected))
        {
            return false;
        }
        Span<byte> actual = stackalloc byte[HashBytes];
        Derive(password, salt, iterations, actual);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static void Derive(ReadOnlySpan<char> password, ReadOnlySpan<byte> salt, int iterations, Span<byte> hash)
    {
        var bytes = Encoding.UTF8.GetBytes(password.ToArray());
        try
        {
            Rfc2898DeriveBytes.Pbkdf2(bytes, salt, hash, iterations, HashAlgorithmName.SHA256);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static bool TryParse(string? encoded, out int iterations, [NotNullWhen(true)] out byte[]? salt, [NotNullWhen(true)] out byte[]? hash)
    {
        iterations = 0;
        salt = null;
        hash = null;
        var parts = encoded?.Split('$');
        if (parts is not [Scheme, var count, var saltText, var hashText]
            || !int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out iterations)
            || iterations < MinimumIterations)
        {
            return false;
        }
        try
        {
            salt = Convert.FromBase64String(saltText);
            hash = Convert.FromBase64String(hashText);
        }
        catch (FormatException)
        {
            return false;
        }
        return salt.Length >= SaltBytes && hash.Length == HashBytes;
    }
}
