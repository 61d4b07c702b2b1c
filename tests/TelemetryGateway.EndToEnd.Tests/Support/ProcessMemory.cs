using System.Globalization;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>A process's resident memory, read from <c>/proc/PID/status</c> (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>VmRSS in MiB.</summary>
    public static double ResidentMiB(int processId)
    {
        foreach (var line in File.ReadLines($"/proc/{processId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kib = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kib / 1024.0;
            }
        }
        throw new InvalidOperationException($"No VmRSS for process {processId}.");
    }
}
