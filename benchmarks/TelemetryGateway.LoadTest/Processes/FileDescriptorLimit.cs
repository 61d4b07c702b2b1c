using System.Runtime.InteropServices;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>
/// The open-file limit (RLIMIT_NOFILE) of the benchmark, which the brokers and the gateway it starts inherit. .NET raises
/// its own soft limit to the hard one at start-up; thousands of idle devices can need more than a distribution's hard
/// limit, so the benchmark raises both for itself and its children (root, or CAP_SYS_RESOURCE) — never the gateway's
/// defaults. An operator running the gateway for that many devices sets <c>LimitNOFILE=</c> in its systemd unit.
/// </summary>
internal static partial class FileDescriptorLimit
{
    private const int ResourceOpenFiles = 7;

    /// <summary>Makes at least <paramref name="needed"/> descriptors available; returns null, or why it could not.</summary>
    public static string? EnsureAtLeast(ulong needed)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        if (GetResourceLimit(ResourceOpenFiles, out var limit) != 0)
        {
            return $"getrlimit failed (errno {Marshal.GetLastPInvokeError()})";
        }
        if (limit.Current >= needed)
        {
            return null;
        }
        var raised = new ResourceLimit { Current = needed, Maximum = Math.Max(needed, limit.Maximum) };
        if (SetResourceLimit(ResourceOpenFiles, in raised) != 0)
        {
            return $"{needed} open files are needed but the limit is {limit.Current} (hard {limit.Maximum}) and raising it failed "
                + $"(errno {Marshal.GetLastPInvokeError()}): run as root, or 'ulimit -Hn {needed}' first";
        }
        return null;
    }

    /// <summary>The soft limit now.</summary>
    public static ulong Current => OperatingSystem.IsLinux() && GetResourceLimit(ResourceOpenFiles, out var limit) == 0 ? limit.Current : 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetResourceLimit(int resource, out ResourceLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetResourceLimit(int resource, in ResourceLimit limit);
}
