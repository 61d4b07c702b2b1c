using System.Diagnostics;
using System.Text;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>
/// The gateway executable in its own process, configured on the command line like an operator would, on a loopback
/// port with its own data directory. Can be stopped gracefully or killed outright.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    private readonly string? _umask;
    private IReadOnlyDictionary<string, string> _environment = new Dictionary<string, string>();

    // A worker (ingress mode mqtt-shared or amqp) opens no listener: it is ready once it logs this line.
    private string? _readyLine;

    private GatewayProcess(string dataDirectory, int port, IReadOnlyList<string> settings, string? umask = null)
    {
        DataDirectory = dataDirectory;
        Port = port;
        Settings = settings;
        _umask = umask;
    }

    public string DataDirectory { get; }
    public int Port { get; }

    /// <summary>The admin listener's loopback port (metrics, health, reload): a free one, never the default 9464.</summary>
    public int AdminPort { get; } = Loopback.FreePort();

    public IReadOnlyList<string> Settings { get; }

    /// <summary>A client of the admin listener (no key: it is on loopback).</summary>
    public HttpClient AdminClient() => new() { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}/"), Timeout = TimeSpan.FromSeconds(30) };

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "telemetry-gateway.dll");
    public static string Policy => Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");

    /// <summary>Starts a gateway; <paramref name="settings"/> are extra <c>--Gateway:...=value</c> arguments.</summary>
    public static async Task<GatewayProcess> StartAsync(string dataDirectory, params string[] settings)
    {
        var gateway = new GatewayProcess(dataDirectory, Loopback.FreePort(), settings);
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>Starts a worker gateway, ready once its output shows <paramref name="readyLine"/> (one more time than before the start).</summary>
    public static async Task<GatewayProcess> StartWorkerAsync(string dataDirectory, string readyLine, params string[] settings)
    {
        var gateway = new GatewayProcess(dataDirectory, Loopback.FreePort(), settings) { _readyLine = readyLine };
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>Starts a gateway under a shell that first sets the umask (e.g. <c>000</c>), as a careless service manager might.</summary>
    public static async Task<GatewayProcess> StartWithUmaskAsync(string umask, string dataDirectory, params string[] settings)
    {
        var gateway = new GatewayProcess(dataDirectory, Loopback.FreePort(), settings, umask);
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>Starts a gateway with extra environment variables (e.g. systemd's NOTIFY_SOCKET and WATCHDOG_USEC).</summary>
    public static async Task<GatewayProcess> StartWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, string dataDirectory, params string[] settings)
    {
        var gateway = new GatewayProcess(dataDirectory, Loopback.FreePort(), settings) { _environment = environment };
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>The gateway's process id (for /proc measurements), once started.</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("The gateway is not running.");

    /// <summary>Starts again with the same port, data directory and settings (after <see cref="KillAsync"/> or <see cref="StopAsync"/>).</summary>
    public async Task StartAsync()
    {
        var readyBefore = _readyLine is null ? 0 : Occurrences(_readyLine);
        var start = new ProcessStartInfo(_umask is null ? "dotnet" : "sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (_umask is not null)
        {
            // exec: the gateway replaces the shell, so the process id and a kill reach the gateway itself.
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"umask {_umask} && exec dotnet \"$@\"");
            start.ArgumentList.Add("sh");
        }
        foreach (var argument in Arguments())
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in _environment)
        {
            start.Environment[name] = value;
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("The gateway did not start.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (_readyLine is { } readyLine)
        {
            var process = _process;
            if (!await Loopback.EventuallyAsync(() => Occurrences(readyLine) > readyBefore || process.HasExited, TimeSpan.FromSeconds(30)) || process.HasExited)
            {
                throw new TimeoutException($"The worker did not log '{readyLine}' within 30 s. {Output}");
            }
            return;
        }
        await Loopback.WaitForListenerAsync(Port, TimeSpan.FromSeconds(30), () => Output);
    }

    public IEnumerable<string> Arguments()
    {
        yield return Dll;
        yield return $"--Gateway:Mqtt:Port={Port}";
        yield return "--Gateway:Mqtt:BindAddress=127.0.0.1";
        yield return $"--Gateway:DataDirectory={DataDirectory}";
        yield return $"--Gateway:Policy:Path={Policy}";
        yield return "--Gateway:GatewayId=gw-test";
        yield return $"--Gateway:Admin:Port={AdminPort}";
        yield return "--Logging:LogLevel:Default=Information";
        foreach (var setting in Settings)
        {
            yield return setting;
        }
    }

    /// <summary>What the gateway printed, for failure messages (its logs never carry payloads).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM: the graceful shutdown path.</summary>
    public async Task<int> StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return _process?.ExitCode ?? 0;
        }
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    private int Occurrences(string text)
    {
        var output = Output;
        var count = 0;
        for (var at = output.IndexOf(text, StringComparison.Ordinal); at >= 0; at = output.IndexOf(text, at + text.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }
}
