using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>
/// The gateway under test, run as <c>dotnet telemetry-gateway.dll</c> with its MQTT listener on a loopback port and its
/// upstream on the cloud broker; its data directory is a temporary directory removed afterwards.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly string _dataDirectory;
    private readonly OutputTail _output;

    private GatewayProcess(int port, string commandLine, Process process, string dataDirectory, OutputTail output)
    {
        Port = port;
        CommandLine = commandLine;
        _process = process;
        _dataDirectory = dataDirectory;
        _output = output;
    }

    public int Port { get; }

    public IPEndPoint Endpoint => Loopback.Endpoint(Port);

    /// <summary>How the gateway was started, for the report (the data directory shown as TMPDIR).</summary>
    public string CommandLine { get; }

    /// <summary>CPU time (user and system) the gateway has used so far.</summary>
    public TimeSpan CpuTime => ChildProcesses.CpuTime(_process);

    /// <summary>Resident memory (working set) now, bytes.</summary>
    public long WorkingSet => ChildProcesses.WorkingSet(_process);

    /// <summary>The process ended while it should be serving.</summary>
    public string? Failure => _process.HasExited ? $"the gateway exited with code {_process.ExitCode}:{Environment.NewLine}{_output.Text}" : null;

    /// <summary>Starts the gateway and waits (30 s at most) until its MQTT port accepts TCP connections.</summary>
    public static async Task<GatewayProcess> StartAsync(string gatewayDll, int port, int upstreamPort, string topicPrefix, IReadOnlyList<string> settings)
    {
        if (!File.Exists(gatewayDll))
        {
            throw new StartFailedException(
                $"the gateway is not built: '{gatewayDll}' does not exist (dotnet build -c Release src/TelemetryGateway.Host, or pass --gateway-dll)");
        }
        var dataDirectory = Directory.CreateTempSubdirectory("tg-load-gateway-").FullName;
        ChildProcesses.TrackDirectory(dataDirectory);
        string[] arguments =
        [
            gatewayDll,
            string.Create(CultureInfo.InvariantCulture, $"--Gateway:Mqtt:Port={port}"),
            "--Gateway:Mqtt:BindAddress=127.0.0.1",
            string.Create(CultureInfo.InvariantCulture, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstreamPort}"),
            $"--Gateway:Upstream:TopicPrefix={topicPrefix}",
            $"--Gateway:DataDirectory={dataDirectory}",
            "--Logging:LogLevel:Default=Warning",
            .. settings.Select(setting => "--" + setting),
        ];
        var startInfo = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        var commandLine = "dotnet " + string.Join(' ', arguments).Replace(dataDirectory, "TMPDIR", StringComparison.Ordinal);
        var output = new OutputTail();
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new StartFailedException("the gateway did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            ChildProcesses.DeleteDirectory(dataDirectory);
            throw new StartFailedException($"the gateway could not be started ({commandLine}): {e.Message}");
        }
        ChildProcesses.Track(process);
        output.Attach(process);
        var gateway = new GatewayProcess(port, commandLine, process, dataDirectory, output);
        if (!await Loopback.WaitUntilListeningAsync(port, process, StartTimeout))
        {
            var reason = process.HasExited
                ? string.Create(CultureInfo.InvariantCulture, $"exited with code {process.ExitCode}")
                : $"did not accept connections on 127.0.0.1:{port} within {StartTimeout.TotalSeconds} s";
            await gateway.DisposeAsync();
            throw new StartFailedException($"the gateway {reason}.{Environment.NewLine}  command: {commandLine}{Environment.NewLine}  output:{Environment.NewLine}{output.Text}");
        }
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        await ChildProcesses.StopAsync(_process, TimeSpan.FromSeconds(10));
        _process.Dispose();
        ChildProcesses.DeleteDirectory(_dataDirectory);
    }

    /// <summary>The dotnet host that runs this benchmark when it can be told, else <c>dotnet</c> from PATH.</summary>
    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }
        return "dotnet";
    }
}
