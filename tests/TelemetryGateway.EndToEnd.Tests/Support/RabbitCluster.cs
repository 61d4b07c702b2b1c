using System.Diagnostics;
using System.Globalization;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>
/// Debian's rabbitmq-server on loopback: one node or a cluster of several on this machine, each with its own node name,
/// AMQP, MQTT (rabbitmq_mqtt) and distribution ports and its own data directory, and a private epmd on a free port.
/// Every process is started here and stopped by its process id.
/// </summary>
internal sealed class RabbitCluster : IAsyncDisposable
{
    private const string Bin = "/usr/lib/rabbitmq/bin";
    private static readonly TimeSpan s_boot = TimeSpan.FromSeconds(120);

    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("tg-rabbit-").FullName;
    private readonly int _epmdPort = Loopback.FreePort();
    private Process? _epmd;

    private RabbitCluster(int nodes)
    {
        for (var i = 0; i < nodes; i++)
        {
            Nodes.Add(new RabbitNode($"tgw{i}-{System.Environment.ProcessId}@localhost", Loopback.FreePort(), Loopback.FreePort(), Loopback.FreePort(), Path.Combine(_directory, $"n{i}")));
        }
    }

    public List<RabbitNode> Nodes { get; } = [];

    /// <summary>The AMQP URLs of every node, comma-separated (the worker's <c>Gateway:Ingress:Url</c>).</summary>
    public string AmqpUrls => string.Join(",", Nodes.Select(n => $"amqp://guest:guest@127.0.0.1:{n.AmqpPort}/"));

    /// <summary>Starts <paramref name="nodes"/> nodes at once and joins the others to the first.</summary>
    public static async Task<RabbitCluster> StartAsync(int nodes)
    {
        var cluster = new RabbitCluster(nodes);
        try
        {
            cluster.StartEpmd();
            // The same cookie for every node and for rabbitmqctl: each node's HOME holds a copy.
            var cookie = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
            foreach (var node in cluster.Nodes)
            {
                Prepare(node, cookie);
                cluster.Start(node);
            }
            foreach (var node in cluster.Nodes)
            {
                await cluster.AwaitStartupAsync(node);
            }
            foreach (var node in cluster.Nodes.Skip(1))
            {
                await cluster.CtlAsync(node, "stop_app");
                await cluster.CtlAsync(node, "join_cluster", cluster.Nodes[0].Name);
                await cluster.CtlAsync(node, "start_app");
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private void StartEpmd()
    {
        _epmd = Process.Start(new ProcessStartInfo("/usr/bin/epmd", ["-port", _epmdPort.ToString(CultureInfo.InvariantCulture), "-address", "127.0.0.1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("epmd did not start");
    }

    private static void Prepare(RabbitNode node, string cookie)
    {
        System.IO.Directory.CreateDirectory(node.Directory);
        File.WriteAllLines(Path.Combine(node.Directory, "rabbitmq.conf"),
        [
            $"listeners.tcp.1 = 127.0.0.1:{node.AmqpPort}",
            $"mqtt.listeners.tcp.1 = 127.0.0.1:{node.MqttPort}",
            "loopback_users = none",
            "log.console = false",
            "log.file.level = warning",
        ]);
        File.WriteAllText(Path.Combine(node.Directory, "enabled_plugins"), "[rabbitmq_mqtt].\n");
        var cookieFile = Path.Combine(node.Directory, ".erlang.cookie");
        File.WriteAllText(cookieFile, cookie);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(cookieFile, UnixFileMode.UserRead);
        }
    }

    private void SetEnvironment(RabbitNode node, ProcessStartInfo start)
    {
        start.Environment["HOME"] = node.Directory;
        start.Environment["ERL_EPMD_PORT"] = _epmdPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        start.Environment["RABBITMQ_NODENAME"] = node.Name;
        start.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        start.Environment["RABBITMQ_NODE_PORT"] = node.AmqpPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_DIST_PORT"] = node.DistributionPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(node.Directory, "mnesia");
        start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(node.Directory, "log");
        start.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(node.Directory, "rabbitmq.conf");
        start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(node.Directory, "enabled_plugins");
        start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(node.Directory, "pid");
        // Distribution on loopback only.
        start.Environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}";
        start.Environment["RABBITMQ_CTL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}";
    }

    /// <summary>Starts a node (again, after <see cref="KillAsync"/>) on its ports and data directory.</summary>
    public void Start(RabbitNode node)
    {
        var pidFile = Path.Combine(node.Directory, "pid");
        File.Delete(pidFile);
        var start = new ProcessStartInfo(Path.Combine(Bin, "rabbitmq-server")) { RedirectStandardOutput = true, RedirectStandardError = true };
        SetEnvironment(node, start);
        node.Script = Process.Start(start) ?? throw new InvalidOperationException("rabbitmq-server did not start");
        node.Script.OutputDataReceived += (_, _) => { };
        node.Script.ErrorDataReceived += (_, _) => { };
        node.Script.BeginOutputReadLine();
        node.Script.BeginErrorReadLine();
    }

    /// <summary>Waits until the node has booted; then reads the Erlang VM's process id (the script runs it as a child).</summary>
    public async Task AwaitStartupAsync(RabbitNode node)
    {
        // await_startup fails at once while the node has not yet registered with epmd: tried again until the boot deadline.
        var deadline = DateTime.UtcNow + s_boot;
        while (true)
        {
            try
            {
                await CtlAsync(node, "await_startup", "--timeout", ((int)s_boot.TotalSeconds).ToString(CultureInfo.InvariantCulture));
                break;
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline && node.Script is { HasExited: false })
            {
                await Task.Delay(1000);
            }
        }
        node.VmProcessId = int.Parse(File.ReadAllText(Path.Combine(node.Directory, "pid")).Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>SIGKILL to the node's Erlang VM: no shutdown code runs.</summary>
    public static async Task KillAsync(RabbitNode node)
    {
        if (node.VmProcessId is { } pid)
        {
            await SignalAsync(pid, "KILL");
            node.VmProcessId = null;
        }
        if (node.Script is { } script)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await script.WaitForExitAsync(timeout.Token);
            script.Dispose();
            node.Script = null;
        }
    }

    /// <summary>Runs rabbitmqctl against <paramref name="node"/>; returns its standard output, throws when it fails.</summary>
    public async Task<string> CtlAsync(RabbitNode node, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(Bin, "rabbitmqctl")) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-n");
        start.ArgumentList.Add(node.Name);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        SetEnvironment(node, start);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_boot + TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr} {await stdout}");
        }
        return await stdout;
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        await kill!.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node.VmProcessId is { } pid)
            {
                await SignalAsync(pid, "KILL");
                node.VmProcessId = null;
            }
            if (node.Script is { } script)
            {
                if (!script.HasExited)
                {
                    script.Kill(entireProcessTree: true);
                }
                await script.WaitForExitAsync();
                script.Dispose();
                node.Script = null;
            }
        }
        if (_epmd is { } epmd)
        {
            if (!epmd.HasExited)
            {
                epmd.Kill();
            }
            await epmd.WaitForExitAsync();
            epmd.Dispose();
        }
        System.IO.Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>One node of a <see cref="RabbitCluster"/>: its name, ports and directory, and its processes while it runs.</summary>
internal sealed class RabbitNode(string name, int amqpPort, int mqttPort, int distributionPort, string directory)
{
    public string Name { get; } = name;
    public int AmqpPort { get; } = amqpPort;
    public int MqttPort { get; } = mqttPort;
    public int DistributionPort { get; } = distributionPort;
    public string Directory { get; } = directory;
    public Process? Script { get; set; }
    public int? VmProcessId { get; set; }
}
