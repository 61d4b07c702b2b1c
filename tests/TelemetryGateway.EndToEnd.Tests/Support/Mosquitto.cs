using System.Diagnostics;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>
/// A real mosquitto broker on a loopback port, standing in for the cloud. Optionally persistent (sessions and queued
/// QoS 1 messages survive a restart on the same directory). Stopped by its process id.
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    private readonly string _directory;
    private Process? _process;

    private Mosquitto(int port, bool persistent)
    {
        Port = port;
        Persistent = persistent;
        _directory = System.IO.Directory.CreateTempSubdirectory("tg-mosquitto-").FullName;
    }

    /// <summary>Extra configuration lines (TLS, password file) for a secured listener.</summary>
    public IReadOnlyList<string> ListenerSettings { get; init; } = [];

    /// <summary>Extra configuration lines that leave anonymous access on (an ACL file, a maximum packet size).</summary>
    public IReadOnlyList<string> Settings { get; init; } = [];

    public string Directory => _directory;

    public int Port { get; }
    public bool Persistent { get; }

    public static Mosquitto Create(int port, bool persistent = false, IReadOnlyList<string>? listenerSettings = null, IReadOnlyList<string>? settings = null) =>
        new(port, persistent) { ListenerSettings = listenerSettings ?? [], Settings = settings ?? [] };

    public static async Task<Mosquitto> StartAsync(int? port = null, bool persistent = false)
    {
        var broker = new Mosquitto(port ?? Loopback.FreePort(), persistent);
        await broker.StartAsync();
        return broker;
    }

    public async Task StartAsync()
    {
        var config = Path.Combine(_directory, "mosquitto.conf");
        var lines = new List<string>
        {
            $"listener {Port} 127.0.0.1",
            ListenerSettings.Count == 0 ? "allow_anonymous true" : "allow_anonymous false",
            // Stay root when started as root, so the persistence directory needs no ownership change.
            "user root",
            "log_dest none",
            "max_queued_messages 100000",
        };
        lines.AddRange(ListenerSettings);
        lines.AddRange(Settings);
        lines.AddRange(Persistent
            ? ["persistence true", $"persistence_location {_directory}/", "autosave_interval 1"]
            : ["persistence false"]);
        await File.WriteAllLinesAsync(config, lines);
        var executable = File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto";
        _process = Process.Start(new ProcessStartInfo(executable, ["-c", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("mosquitto did not start");
        await Loopback.WaitForListenerAsync(Port, TimeSpan.FromSeconds(10), () => _process.HasExited ? $"mosquitto exited with {_process.ExitCode}" : "");
    }

    /// <summary>Stops the broker (SIGTERM, so a persistent one saves its state) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        System.IO.Directory.Delete(_directory, recursive: true);
    }
}
