using System.Runtime.InteropServices;
using TelemetryGateway.LoadTest.Processes;

namespace TelemetryGateway.LoadTest.Reporting;

/// <summary>What the numbers were measured on; they are only comparable within one report.</summary>
internal sealed record MachineFacts(
    int Cores, string Cpu, string Runtime, string OperatingSystem, string MosquittoVersion, DateTimeOffset StartedAt, string LoadAverageAtStart)
{
    public static async Task<MachineFacts> CollectAsync() => new(
        Environment.ProcessorCount,
        CpuModel(),
        RuntimeInformation.FrameworkDescription,
        RuntimeInformation.OSDescription,
        await Mosquitto.VersionAsync(),
        DateTimeOffset.UtcNow,
        LoadAverage());

    /// <summary>The 1, 5 and 15 minute load averages (other work on shared cores shows here), or "unknown".</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length >= 3 ? $"{fields[0]}, {fields[1]}, {fields[2]}" : "unknown";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
