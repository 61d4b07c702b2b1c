using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>
/// Every child process and temporary directory the benchmark creates, so that they are removed even when the run
/// ends by Ctrl+C, SIGTERM or an unhandled exception (the owners' try/finally covers the normal path).
/// </summary>
internal static class ChildProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();
    private static readonly ConcurrentDictionary<string, byte> TemporaryDirectories = new();
    private static readonly List<PosixSignalRegistration> SignalRegistrations = [];
    private static int s_installed;

    /// <summary>Kills the children and deletes the directories at process exit and on Ctrl+C.</summary>
    public static void InstallExitHandlers()
    {
        if (Interlocked.Exchange(ref s_installed, 1) != 0)
        {
            return;
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => CleanUp();
        AppDomain.CurrentDomain.UnhandledException += (_, _) => CleanUp();
        // SIGTERM/SIGINT/SIGQUIT: clean up first, then let the default action end the process.
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            SignalRegistrations.Add(PosixSignalRegistration.Create(signal, _ => CleanUp()));
        }
    }

    public static void Track(Process process) => Running[process.Id] = process;

    /// <summary>CPU time (user and system) <paramref name="process"/> has used; zero once it has exited.</summary>
    public static TimeSpan CpuTime(Process process)
    {
        try
        {
            process.Refresh();
            return process.HasExited ? TimeSpan.Zero : process.TotalProcessorTime;
        }
        catch (InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Resident memory (working set) of <paramref name="process"/>, bytes; zero once it has exited.</summary>
    public static long WorkingSet(Process process)
    {
        try
        {
            process.Refresh();
            return process.HasExited ? 0 : process.WorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    public static void TrackDirectory(string path) => TemporaryDirectories[path] = 0;

    /// <summary>Kills one child (by its pid, with its descendants) and waits, bounded, for it to exit.</summary>
    public static async Task StopAsync(Process process, TimeSpan timeout)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            using var wait = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(wait.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or it did not exit in time: nothing more a benchmark can do.
        }
        finally
        {
            Running.TryRemove(process.Id, out _);
        }
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A child may still hold a file for a moment; the directory is under the temp path anyway.
        }
        TemporaryDirectories.TryRemove(path, out _);
    }

    private static void CleanUp()
    {
        foreach (var process in Running.Values)
        {
            try
            {
                // By pid only (no tree walk): mosquitto and the gateway's dotnet host start no children.
                process.Kill();
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
        Running.Clear();
        foreach (var path in TemporaryDirectories.Keys)
        {
            DeleteDirectory(path);
        }
    }
}
