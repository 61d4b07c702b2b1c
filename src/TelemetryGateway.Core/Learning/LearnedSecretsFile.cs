using System.Security.Cryptography;
using System.Text;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Storage;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// The learned values on disk: one file in the data directory, 0600, encrypted and authenticated with AES-GCM under a
/// key derived from the pseudonymization key (so a copy of the file alone reveals nothing, and a file from another
/// gateway or a tampered one is refused). Written to a temporary file and renamed, so a crash never leaves half a file.
/// </summary>
public sealed class LearnedSecretsFile
{
    public const string FileName = "learned-secrets.bin";

    private const int NonceLength = 12;
    private const int TagLength = 16;
    private static ReadOnlySpan<byte> Magic => "TGLS1"u8;

    private readonly byte[] _key;

    public LearnedSecretsFile(string path, PseudonymizationKey key)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(key);
        Path = path;
        _key = key.DeriveSecret("learned-secrets");
    }

    public string Path { get; }

    /// <summary>Writes every value of <paramref name="secrets"/>.</summary>
    public void Save(LearnedSecrets secrets)
    {
        var plain = Serialize(secrets.Snapshot());
        var file = new byte[Magic.Length + NonceLength + TagLength + plain.Length];
        Magic.CopyTo(file);
        var nonce = file.AsSpan(Magic.Length, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(_key, TagLength))
        {
            aes.Encrypt(nonce, plain, file.AsSpan(Magic.Length + NonceLength + TagLength), file.AsSpan(Magic.Length + NonceLength, TagLength), Magic);
        }

        CryptographicOperations.ZeroMemory(plain);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        PrivateFiles.CreateDirectory(directory);
        var temporary = Path + ".tmp";
        PrivateFiles.EnsureFile(temporary);
        File.WriteAllBytes(temporary, file);
        File.Move(temporary, Path, overwrite: true);
        PrivateFiles.Narrow(Path);
    }

    /// <summary>
    /// Restores the values saved in the file into <paramref name="secrets"/>. Returns <see cref="LoadResult.Missing"/>
    /// when there is no file, <see cref="LoadResult.Discarded"/> when it cannot be read, decrypted or parsed (it is
    /// deleted, never fatal: the values are learned again from the next messages).
    /// </summary>
    public LoadResult Load(LearnedSecrets secrets)
    {
        if (!File.Exists(Path))
        {
            return LoadResult.Missing;
        }

        PrivateFiles.Narrow(Path);
        try
        {
            var file = File.ReadAllBytes(Path);
            if (file.Length < Magic.Length + NonceLength + TagLength || !file.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            {
                throw new InvalidDataException("not a learned-values file");
            }

            var plain = new byte[file.Length - Magic.Length - NonceLength - TagLength];
            using (var aes = new AesGcm(_key, TagLength))
            {
                aes.Decrypt(file.AsSpan(Magic.Length, NonceLength), file.AsSpan(Magic.Length + NonceLength + TagLength), file.AsSpan(Magic.Length + NonceLength, TagLength), plain, Magic);
            }

            secrets.Restore(Deserialize(plain));
            CryptographicOperations.ZeroMemory(plain);
            return LoadResult.Loaded;
        }
        catch (Exception e) when (e is CryptographicException or InvalidDataException or IOException or ArgumentOutOfRangeException or DecoderFallbackException)
        {
            File.Delete(Path);
            return LoadResult.Discarded;
        }
    }

    private static byte[] Serialize(IReadOnlyList<LearnedSecrets.Entry> entries)
    {
        using var buffer = new MemoryStream();
        using var writer = new BinaryWriter(buffer, Encoding.UTF8);
        writer.Write(entries.Count);
        foreach (var entry in entries)
        {
            writer.Write((byte)entry.Kind);
            writer.Write(Volatile.Read(ref entry.LastSeenTicks));
            writer.Write(entry.Original.Length);
            writer.Write(entry.Original);
            writer.Write(entry.Devices.Length);
            foreach (var device in entry.Devices)
            {
                writer.Write(device);
            }
        }

        writer.Flush();
        return buffer.ToArray();
    }

    private static List<LearnedSecrets.Entry> Deserialize(byte[] plain)
    {
        var entries = new List<LearnedSecrets.Entry>();
        using var reader = new BinaryReader(new MemoryStream(plain), new UTF8Encoding(false, throwOnInvalidBytes: true));
        try
        {
            var count = reader.ReadInt32();
            if (count < 0 || count > plain.Length)
            {
                throw new InvalidDataException("bad count");
            }

            for (var i = 0; i < count; i++)
            {
                var kind = reader.ReadByte();
                var lastSeen = reader.ReadInt64();
                var length = reader.ReadInt32();
                if (!Enum.IsDefined((LearnedClass)kind) || length is < 0 or > LearnedSecretSet.MaxLength)
                {
                    throw new InvalidDataException("bad entry");
                }

                var value = reader.ReadBytes(length);
                var deviceCount = reader.ReadInt32();
                if (value.Length != length || deviceCount < 0 || deviceCount > plain.Length)
                {
                    throw new InvalidDataException("bad entry");
                }

                var devices = new string[deviceCount];
                for (var d = 0; d < deviceCount; d++)
                {
                    devices[d] = reader.ReadString();
                }

                entries.Add(new LearnedSecrets.Entry(LearnedSecretSet.Lowercase(value.ToArray()), value, (LearnedClass)kind, lastSeen, devices));
            }
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("truncated");
        }

        return entries;
    }

    public enum LoadResult
    {
        Missing,
        Loaded,
        Discarded,
    }
}
