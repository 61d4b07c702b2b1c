using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>
/// A mosquitto broker on 127.0.0.1 run as a child process from a generated config file, stopped by its pid.
/// Debian's mosquitto started as root drops privileges to the <c>mosquitto</c> user, so the config keeps it
/// away from files: no persistence, no log file.
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly OutputTail _output;

    private Mosquitto(string name, int port, string config, Process process, string directory, OutputTail output)
    {
        Name = name;
        Port = port;
        Config = config;
        _process = process;
        _directory = directory;
        _output = output;
    }

    /// <summary>What the broker is in the scenario ("cloud", "site").</summary>
    public string Name { get; }

    public int Port { get; }

    public IPEndPoint Endpoint => Loopback.Endpoint(Port);

    /// <summary>The generated mosquitto.conf, shown in the report.</summary>
    public string Config { get; }

    /// <summary>CPU time (user and system) the broker has used so far.</summary>
    public TimeSpan CpuTime => ChildProcesses.CpuTime(_process);

    /// <summary>Resident memory (working set) now, bytes.</summary>
    public long WorkingSet => ChildProcesses.WorkingSet(_process);

    /// <summary>The process ended while it should be serving.</summary>
    public string? Failure => _process.HasExited ? $"mosquitto ({Name}) exited with code {_process.ExitCode}:{Environment.NewLine}{_output.Text}" : null;

    /// <summary>The config of a plain broker: the "cloud" side, or the site broker of the generator self-test.</summary>
    /// <remarks>No limit on queued or in-flight messages: the cloud broker is the measuring instrument, and it must
    /// neither drop (mosquitto's default queue is 1000 messages per client) nor throttle what reaches it. Nagle's
    /// algorithm as <paramref name="brokers"/> says: on is mosquitto's default, what users have (a client waiting for two
    /// PUBACKs in a row meets the delayed-ACK stall, and QoS 0 packets to a subscriber that sends nothing back wait for
    /// delayed ACKs too); off (<c>set_tcp_nodelay true</c>) is the tuned broker.</remarks>
    public static string PlainConfig(int port, BrokerTuning brokers) => string.Create(CultureInfo.InvariantCulture, $"""
        listener {port} 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest none
        {NoDelay(brokers)}max_queued_messages 0
        max_inflight_messages 0

        """);

    /// <summary>
    /// The baseline: a site broker with a bridge that forwards <c>dt/#</c> at QoS 1 to the cloud broker under
    /// <paramref name="remotePrefix"/>. In-flight window left at mosquitto's default (20); the queue is unbounded so
    /// the bridge is measured by how fast it forwards, not by mosquitto's default 1000-message drop; Nagle's algorithm
    /// as on the cloud broker.
    /// </summary>
    public static string BridgeConfig(int port, int cloudPort, string remotePrefix, BrokerTuning brokers) => string.Create(CultureInfo.InvariantCulture, $"""
        listener {port} 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest none
        {NoDelay(brokers)}max_queued_messages 0

        connection cloud
        address 127.0.0.1:{cloudPort}
        topic dt/# out 1 "" {remotePrefix}
        cleansession false
        bridge_protocol_version mqttv311
        notifications false
        restart_timeout 1

        """);

    private static string NoDelay(BrokerTuning brokers) => brokers == BrokerTuning.Tuned ? "set_tcp_nodelay true\n" : "";

    /// <summary>Starts mosquitto with <paramref name="config"/> and waits (10 s at most) until its port accepts connections.</summary>
    public static async Task<Mosquitto> StartAsync(string name, int port, string config)
    {
        var executable = FindExecutable();
        var directory = Directory.CreateTempSubdirectory("tg-load-mosquitto-").FullName;
        ChildProcesses.TrackDirectory(directory);
        var configPath = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllTextAsync(configPath, config, Encoding.ASCII);
        var output = new OutputTail();
        var startInfo = new ProcessStartInfo(executable)
        {
            ArgumentList = { "-c", configPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new StartFailedException($"mosquitto ({name}) did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            ChildProcesses.DeleteDirectory(directory);
            throw new StartFailedException($"mosquitto ({name}) could not be started from '{executable}': {e.Message}");
        }
        ChildProcesses.Track(process);
        output.Attach(process);
        var broker = new Mosquitto(name, port, config, process, directory, output);
        if (!await Loopback.WaitUntilListeningAsync(port, process, TimeSpan.FromSeconds(10)))
        {
            var reason = process.HasExited ? $"exited with code {process.ExitCode}" : "did not listen within 10 s";
            await broker.DisposeAsync();
            throw new StartFailedException($"mosquitto ({name}) on 127.0.0.1:{port} {reason}:{Environment.NewLine}{output.Text}");
        }
        return broker;
    }

    /// <summary>The first line of <c>mosquitto -h</c>, e.g. "mosquitto version 2.0.11".</summary>
    public static async Task<string> VersionAsync()
    {
        try
        {
            var startInfo = new ProcessStartInfo(FindExecutable(), "-h") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(startInfo);
            if (process is null)
            {
                return "unknown";
            }
            var stderr = process.StandardError.ReadToEndAsync();
            var text = await process.StandardOutput.ReadToEndAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(wait.Token);
            var first = (text + await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return first.Length > 0 ? first[0] : "unknown";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException or StartFailedException)
        {
            return "unknown";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ChildProcesses.StopAsync(_process, TimeSpan.FromSeconds(5));
        _process.Dispose();
        ChildProcesses.DeleteDirectory(_directory);
    }

    private static string FindExecutable()
    {
        foreach (var candidate in new[] { "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "mosquitto"))
            .FirstOrDefault(File.Exists);
        return onPath ?? throw new StartFailedException("mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)");
    }
}
