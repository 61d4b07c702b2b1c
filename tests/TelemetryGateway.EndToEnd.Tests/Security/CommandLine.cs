using System.Diagnostics;
using System.Text;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>What a command printed (standard output and error together) and how it exited.</summary>
internal sealed record CommandResult(int ExitCode, string Output);

/// <summary>Runs a real program (mosquitto_pub, mosquitto_sub, the gateway's own verbs) to completion, bounded in time.</summary>
internal static class CommandLine
{
    public static async Task<CommandResult> RunAsync(string program, IEnumerable<string> arguments, string? standardInput = null, int timeoutSeconds = 20)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteLineAsync(standardInput);
            process.StandardInput.Close();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (output)
            {
                return new CommandResult(-1, output + $"\n(killed after {timeoutSeconds} s)");
            }
        }
        process.WaitForExit();
        lock (output)
        {
            return new CommandResult(process.ExitCode, output.ToString());
        }
    }
}
