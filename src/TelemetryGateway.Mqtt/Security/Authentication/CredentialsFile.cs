namespace TelemetryGateway.Mqtt.Security.Authentication;

/// <summary>The credentials file as the host and its <c>users</c> verb see it: checked at start, and written one user at a time.</summary>
public static class CredentialsFile
{
    /// <summary>Every problem of the file (none when it is absent); users are named by index, never by name.</summary>
    public static IReadOnlyList<string> Validate(string path) => CredentialStore.Read(path).Errors;

    /// <summary>Adds <paramref name="name"/>, or replaces its entry, with a fresh salted hash of <paramref name="password"/>.</summary>
    public static void AddUser(string path, string name, IdentityRole role, string? serial, ReadOnlySpan<char> password, int iterations = PasswordHash.DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.AsSpan().IndexOfAny("+#/") >= 0)
        {
            throw new ArgumentException("a user name may not contain '+', '#' or '/'", nameof(name));
        }
        if (serial is not null && (serial.Length == 0 || serial.AsSpan().IndexOfAny("+#/") >= 0))
        {
            throw new ArgumentException("a serial is one topic level without wildcards", nameof(serial));
        }
        CredentialStore.AddOrReplace(path, new CredentialEntry(name, role, role == IdentityRole.Device ? serial : null, PasswordHash.Create(password, iterations)));
    }

    /// <summary>Removes <paramref name="name"/>; false when the file has no such user.</summary>
    public static bool RemoveUser(string path, string name) => CredentialStore.Remove(path, name);

    /// <summary>The users of the file, name and role (and serial for a device that has one); never their password hashes.</summary>
    public static IReadOnlyList<(string Name, string Role, string? Serial)> ListUsers(string path)
    {
        var (users, errors) = CredentialStore.Read(path);
        if (errors.Count > 0)
        {
            throw new InvalidDataException(errors[0]);
        }
        return [.. users.Select(u => (u.Name, RoleNames.Of(u.Role), u.Serial))];
    }

    /// <summary>Parses a role name of the file (<c>device</c>, <c>installer</c>, <c>cloud</c>).</summary>
    public static bool TryParseRole(string? text, out IdentityRole role) => RoleNames.TryParse(text, out role);
}
