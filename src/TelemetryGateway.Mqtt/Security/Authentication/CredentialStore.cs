using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;

namespace TelemetryGateway.Mqtt.Security.Authentication;

/// <summary>One user of the credentials file.</summary>
internal sealed record CredentialEntry(string Name, IdentityRole Role, string? Serial, string PasswordHash)
{
    public Identity Identity => new(Name, Role, Role == IdentityRole.Device ? Serial ?? Name : null);
}

/// <summary>
/// The users who may connect with a name and password, read from a JSON file written by <c>telemetry-gateway users add</c>:
/// <c>{"users": [{"name", "role", "serial"?, "password": "pbkdf2-sha256$..."}]}</c>. The file is re-read when it changes
/// (checked at each authentication; a stat is cheap next to a password check); a file that no longer parses keeps the
/// previous users and is logged. Password checks are slow on purpose, so at most one runs at a time, and a password
/// already verified for a user is remembered (as a keyed digest, for this process only) until the user's entry changes.
/// </summary>
internal sealed partial class CredentialStore : IDisposable
{
    // Relaxed escaping: the hashes are base64, whose "+" would otherwise be written as \u002B.
    private static readonly JsonSerializerOptions s_writeOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string _path;
    private readonly ILogger? _logger;
    private readonly SemaphoreSlim _slowChecks = new(1, 1);
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, (string Hash, byte[] Digest)> _verified = new(StringComparer.Ordinal);
    private readonly Lock _reload = new();
    private FrozenDictionary<string, CredentialEntry> _users = FrozenDictionary<string, CredentialEntry>.Empty;
    private (DateTime Written, long Length) _stamp = (DateTime.MinValue, -1);

    public CredentialStore(string path, ILogger? logger = null)
    {
        _path = path;
        _logger = logger;
    }

    public string Path => _path;

    public int Count => Current.Count;

    /// <summary>Reads the file now; returns its errors (none when it is absent: no users yet).</summary>
    public IReadOnlyList<string> LoadNow()
    {
        lock (_reload)
        {
            var stamp = Stamp();
            var (users, errors) = Read(_path);
            if (errors.Count == 0)
            {
                _users = users.ToFrozenDictionary(u => u.Name, StringComparer.Ordinal);
                _stamp = stamp;
            }
            return errors;
        }
    }

    private FrozenDictionary<string, CredentialEntry> Current
    {
        get
        {
            var stamp = Stamp();
            if (stamp != _stamp)
            {
                lock (_reload)
                {
                    if (stamp != _stamp)
                    {
                        var (users, errors) = Read(_path);
                        _stamp = stamp;
                        if (errors.Count == 0)
                        {
                            _users = users.ToFrozenDictionary(u => u.Name, StringComparer.Ordinal);
                            if (_logger is not null)
                            {
                                LogReloaded(_logger, _users.Count);
                            }
                        }
                        else if (_logger is not null)
                        {
                            LogReloadFailed(_logger, errors.Count, errors[0]);
                        }
                    }
                }
            }
            return _users;
        }
    }

    /// <summary>The identity named <paramref name="name"/> (certificate subjects map to it), or null.</summary>
    public Identity? Find(string name) => Current.TryGetValue(name, out var entry) ? entry.Identity : null;

    /// <summary>The identity when <paramref name="password"/> is the user's; null otherwise (unknown users cost a full check too).</summary>
    public async Task<Identity?> AuthenticateAsync(string? name, byte[]? password, CancellationToken cancellationToken)
    {
        if (TryRemembered(name, password, out var known))
        {
            return known;
        }
        await _slowChecks.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return VerifySlowly(name, password);
        }
        finally
        {
            _slowChecks.Release();
        }
    }

    /// <summary>True when this password was already verified for the user (and the entry has not changed since): no slow check.</summary>
    public bool TryRemembered(string? name, byte[]? password, out Identity? identity)
    {
        identity = null;
        if (string.IsNullOrEmpty(name) || password is null)
        {
            return false;
        }
        if (Current.TryGetValue(name, out var entry) && _verified.TryGetValue(name, out var known) && known.Hash == entry.PasswordHash
            && CryptographicOperations.FixedTimeEquals(known.Digest, HMACSHA256.HashData(_cacheKey, password)))
        {
            identity = entry.Identity;
            return true;
        }
        return false;
    }

    /// <summary>
    /// The full password check (PBKDF2, slow on purpose), on the calling thread; the caller decides how many run at once
    /// (<see cref="Limits.LoginThrottle"/> on the broker). An unknown user is checked against a dummy hash, so the answer
    /// takes as long as for a known one.
    /// </summary>
    public Identity? VerifySlowly(string? name, byte[]? password)
    {
        if (string.IsNullOrEmpty(name) || password is null)
        {
            return null;
        }
        Current.TryGetValue(name, out var entry);
        var chars = Encoding.UTF8.GetString(password);
        var ok = PasswordHash.Verify(chars, entry?.PasswordHash ?? s_dummyHash.Value);
        if (!ok || entry is null)
        {
            return null;
        }
        _verified[name] = (entry.PasswordHash, HMACSHA256.HashData(_cacheKey, password));
        return entry.Identity;
    }

    private static readonly Lazy<string> s_dummyHash = new(() => PasswordHash.Create("not-a-password-of-anyone"));

    private (DateTime, long) Stamp()
    {
        var info = new FileInfo(_path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
    }

    /// <summary>Parses the file; an absent file means no users. Errors name the entry by index, never by name.</summary>
    public static (List<CredentialEntry> Users, List<string> Errors) Read(string path)
    {
        var users = new List<CredentialEntry>();
        var errors = new List<string>();
        if (!File.Exists(path))
        {
            return (users, errors);
        }
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllBytes(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"credentials file '{path}': {e.GetType().Name} ({(e is JsonException ? "not valid JSON" : e.Message)})");
            return (users, errors);
        }
        if (root?["users"] is not JsonArray array)
        {
            errors.Add($"credentials file '{path}': expected an object with a \"users\" array");
            return (users, errors);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < array.Count; i++)
        {
            var node = array[i] as JsonObject;
            var name = Text(node, "name");
            var roleText = Text(node, "role");
            var serial = Text(node, "serial");
            var hash = Text(node, "password");
            if (string.IsNullOrEmpty(name) || name.AsSpan().IndexOfAny("+#/") >= 0)
            {
                errors.Add($"credentials file '{path}': users[{i}].name must be a non-empty name without '+', '#' or '/'");
                continue;
            }
            if (!names.Add(name))
            {
                errors.Add($"credentials file '{path}': users[{i}] repeats the name of an earlier user");
            }
            if (!RoleNames.TryParse(roleText, out var role))
            {
                errors.Add($"credentials file '{path}': users[{i}].role must be 'device', 'installer' or 'cloud'");
                continue;
            }
            if (serial is not null && (serial.Length == 0 || serial.AsSpan().IndexOfAny("+#/") >= 0))
            {
                errors.Add($"credentials file '{path}': users[{i}].serial must be one topic level without wildcards");
                continue;
            }
            if (!PasswordHash.IsWellFormed(hash))
            {
                errors.Add($"credentials file '{path}': users[{i}].password must be a pbkdf2-sha256 hash (write it with 'telemetry-gateway users add')");
                continue;
            }
            users.Add(new CredentialEntry(name, role, serial, hash!));
        }
        return (users, errors);
    }

    private static string? Text(JsonObject? node, string property) =>
        node?[property] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>Adds or replaces a user, writing the file atomically (a temporary file renamed over it), readable by its owner only.</summary>
    public static void AddOrReplace(string path, CredentialEntry entry)
    {
        var (users, errors) = Read(path);
        if (errors.Count > 0)
        {
            throw new InvalidDataException(errors[0]);
        }
        users.RemoveAll(u => u.Name == entry.Name);
        users.Add(entry);
        Write(path, users);
    }

    /// <summary>Removes a user, writing the file atomically; false (nothing written) when no user has that name.</summary>
    public static bool Remove(string path, string name)
    {
        var (users, errors) = Read(path);
        if (errors.Count > 0)
        {
            throw new InvalidDataException(errors[0]);
        }
        if (users.RemoveAll(u => u.Name == name) == 0)
        {
            return false;
        }
        Write(path, users);
        return true;
    }

    private static void Write(string path, List<CredentialEntry> users)
    {
        var array = new JsonArray();
        foreach (var user in users)
        {
            var node = new JsonObject { ["name"] = user.Name, ["role"] = RoleNames.Of(user.Role) };
            if (user.Serial is not null)
            {
                node["serial"] = user.Serial;
            }
            node["password"] = user.PasswordHash;
            array.Add(node);
        }
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Core.Storage.PrivateFiles.CreateDirectory(directory);
        var temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.UTF8.GetBytes(new JsonObject { ["users"] = array }.ToJsonString(s_writeOptions)));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    public void Dispose() => _slowChecks.Dispose();

    [LoggerMessage(EventId = EventIds.CredentialsReloaded, Level = LogLevel.Information, Message = "Credentials file reloaded: {Users} users")]
    private static partial void LogReloaded(ILogger logger, int users);

    [LoggerMessage(EventId = EventIds.CredentialsReloadFailed, Level = LogLevel.Error, Message = "Credentials file changed but is not valid ({Errors} errors; first: {FirstError}); the previous users stay in effect")]
    private static partial void LogReloadFailed(ILogger logger, int errors, string firstError);
}
