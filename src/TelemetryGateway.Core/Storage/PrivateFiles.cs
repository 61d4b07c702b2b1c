namespace TelemetryGateway.Core.Storage;

/// <summary>
/// The data directory and the files the gateway keeps in it are its own: the directory is created 0700 and files 0600,
/// whatever the process umask, and files left wider by an earlier version are narrowed when opened. (On Windows the
/// inherited ACLs apply.)
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> (and missing parents) owner-only; an existing directory is left as the operator made it.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        if (!Directory.Exists(path))
        {
            // The mode passed is masked by the umask; set it again explicitly.
            Directory.CreateDirectory(path, DirectoryMode);
            File.SetUnixFileMode(path, DirectoryMode);
        }
    }

    /// <summary>Makes sure <paramref name="path"/> exists and is readable and writable by its owner only (content untouched).</summary>
    public static void EnsureFile(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        if (!File.Exists(path))
        {
            var options = new FileStreamOptions { Mode = System.IO.FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = FileMode };
            using var created = new FileStream(path, options);
        }
        Narrow(path);
    }

    /// <summary>Sets an existing file to 0600 (no-op when absent or on Windows).</summary>
    public static void Narrow(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & ~FileMode) != 0)
        {
            File.SetUnixFileMode(path, FileMode);
        }
    }
}
