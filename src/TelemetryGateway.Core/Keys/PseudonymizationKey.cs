using System.Security.Cryptography;
using System.Text;

namespace TelemetryGateway.Core.Keys;

/// <summary>
/// The secret behind keyed pseudonyms (privacy model, principle 5). The bytes never leave this type:
/// it has no accessor that returns them, and <see cref="ToString"/> shows the key id only.
/// </summary>
public sealed class PseudonymizationKey
{
    /// <summary>Shortest accepted key, in bytes (the HMAC-SHA-256 block strength).</summary>
    public const int MinimumLength = 32;

    /// <summary>File name of the generated key inside the gateway's data directory.</summary>
    public const string GeneratedFileName = "pseudonymization.key";

    private readonly byte[] _secret;

    private PseudonymizationKey(byte[] secret)
    {
        _secret = secret;
        // The id names the key epoch so the cloud can tell pseudonyms of different keys apart;
        // it is a hash of the key under a fixed label, so it reveals nothing usable about the key.
        Span<byte> digest = stackalloc byte[32];
        HMACSHA256.HashData(secret, "telemetry-gateway/key-id/v1"u8, digest);
        Id = "k" + Convert.ToHexStringLower(digest[..4]);
        IdUtf8 = Encoding.ASCII.GetBytes(Id);
    }

    /// <summary>Key id, e.g. <c>k1a2b3c4d</c>; prefixed to every pseudonym.</summary>
    public string Id { get; }

    internal byte[] IdUtf8 { get; }

    /// <summary>Reads a key file: its raw bytes are the key; at least <see cref="MinimumLength"/> of them.</summary>
    public static PseudonymizationKey FromFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyMaterialException($"The pseudonymization key file '{path}' cannot be read: {e.GetType().Name}.");
        }
        if (bytes.Length < MinimumLength)
        {
            CryptographicOperations.ZeroMemory(bytes);
            throw new KeyMaterialException($"The pseudonymization key file '{path}' holds fewer than {MinimumLength} bytes.");
        }
        return new PseudonymizationKey(bytes);
    }

    /// <summary>
    /// Loads the key generated in <paramref name="dataDirectory"/>, or generates one there once
    /// (owner read/write only) and reuses it from then on, so pseudonyms stay stable across restarts.
    /// </summary>
    public static PseudonymizationKey LoadOrCreate(string dataDirectory)
    {
        Storage.PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, GeneratedFileName);
        if (File.Exists(path))
        {
            return FromFile(path);
        }
        var secret = RandomNumberGenerator.GetBytes(MinimumLength);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(secret);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first; use theirs so both agree on pseudonyms.
            return FromFile(path);
        }
        return new PseudonymizationKey(secret);
    }

    /// <summary>For tests and tools: a key from bytes the caller owns.</summary>
    public static PseudonymizationKey FromBytes(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinimumLength)
        {
            throw new KeyMaterialException($"A pseudonymization key needs at least {MinimumLength} bytes.");
        }
        return new PseudonymizationKey(secret.ToArray());
    }

    /// <summary>
    /// A key for another use of the same secret (for example the quarantine's payload digests), derived under
    /// <paramref name="label"/>: its outputs cannot be matched against pseudonyms, and it has its own id.
    /// </summary>
    public PseudonymizationKey Derive(string label)
    {
        return new PseudonymizationKey(DeriveSecret(label));
    }

    /// <summary>32 bytes for another use of the same secret (an encryption key, say), derived under <paramref name="label"/>.</summary>
    internal byte[] DeriveSecret(string label)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        var derived = new byte[32];
        HMACSHA256.HashData(_secret, Encoding.UTF8.GetBytes("telemetry-gateway/derived/v1/" + label), derived);
        return derived;
    }

    internal IncrementalHash CreateHmac() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _secret);

    public override string ToString() => $"PseudonymizationKey({Id})";
}

/// <summary>Key material is missing or unusable. The message never contains key bytes.</summary>
public sealed class KeyMaterialException(string message) : Exception(message);
