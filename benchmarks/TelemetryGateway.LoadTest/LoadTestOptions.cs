using System.Globalization;

namespace TelemetryGateway.LoadTest;

/// <summary>What runs in a load test, for each QoS level.</summary>
internal enum ScenarioKind
{
    /// <summary>Generator self-test: devices and the subscriber on one plain mosquitto, no bridge, no gateway.</summary>
    Direct,

    /// <summary>Devices → site mosquitto → mosquitto bridge (QoS 1) → cloud mosquitto.</summary>
    Baseline,

    /// <summary>Devices → the gateway → its upstream client → cloud mosquitto.</summary>
    Gateway,

    /// <summary>
    /// As <see cref="Gateway"/>, with batching for the cloud on (<c>Gateway:Upstream:Batch:Enabled=true</c>, its
    /// defaults otherwise): the cloud subscriber decodes each <c>EnvelopeBatch</c> into its outputs.
    /// </summary>
    GatewayBatch,

    /// <summary>
    /// Devices (MQTT 3.1.1) → a 3-node RabbitMQ cluster's MQTT plugin → its quorum queue → N gateway workers (ingress
    /// mode amqp) → cloud mosquitto; run once for each count of <see cref="LoadTestOptions.WorkerCounts"/>.
    /// </summary>
    Workers,
}

/// <summary>How the mosquitto brokers of a run (cloud, bridging site broker) are configured.</summary>
internal enum BrokerTuning
{
    /// <summary>mosquitto's defaults for the TCP socket (Nagle's algorithm on), what users and most cloud brokers have.</summary>
    Default,

    /// <summary><c>set_tcp_nodelay true</c>: Nagle's algorithm off.</summary>
    Tuned,
}

/// <summary>The command line of the load benchmark. <see cref="Parse"/> reports every problem at once.</summary>
internal sealed record LoadTestOptions
{
    public const string DefaultGatewayDll = "src/TelemetryGateway.Host/bin/Release/net10.0/telemetry-gateway.dll";

    public int Devices { get; init; } = 100;
    public int MessagesPerDevice { get; init; } = 200;
    public IReadOnlyList<byte> QosLevels { get; init; } = [0, 1];
    public IReadOnlyList<ScenarioKind> Scenarios { get; init; } = [ScenarioKind.Baseline, ScenarioKind.Gateway];

    /// <summary>The numbers of workers the <c>workers</c> scenario runs with, in this order.</summary>
    public IReadOnlyList<int> WorkerCounts { get; init; } = [1, 2, 3];

    /// <summary>The broker configurations to run every scenario behind, in this order.</summary>
    public IReadOnlyList<BrokerTuning> Brokers { get; init; } = [BrokerTuning.Default, BrokerTuning.Tuned];

    /// <summary>Devices that connect before the run and publish nothing, held open through it (the gateway's cost per connection).</summary>
    public int IdleDevices { get; init; }

    /// <summary>QoS 1 publishes a device may have awaiting PUBACK (also the largest batch one write carries).</summary>
    public int Window { get; init; } = 32;

    /// <summary>Messages per second per device; 0 = as fast as the window allows.</summary>
    public double RatePerDevice { get; init; }

    public string? GatewayDll { get; init; }

    /// <summary>Port of an already running gateway on 127.0.0.1: the benchmark does not start one.</summary>
    public int? GatewayPort { get; init; }

    /// <summary>Fixed port for the cloud broker (so an externally started gateway can point at it); default a free port.</summary>
    public int? UpstreamPort { get; init; }

    /// <summary>Outputs the gateway produces per status message (after-sales-service and product-improvement).</summary>
    public int GatewayOutputsPerMessage { get; init; } = 2;

    /// <summary>Messages the devices send together (not measured) before each run, so that it starts in steady state.</summary>
    public int WarmUpMessages { get; init; } = 20_000;

    public string UpstreamTopicPrefix { get; init; } = "telemetry";

    /// <summary>Extra <c>Key=Value</c> settings for the gateway the benchmark starts, e.g. <c>Gateway:Mqtt:Transport=tcp</c>.</summary>
    public IReadOnlyList<string> GatewaySettings { get; init; } = [];

    /// <summary>Bound of one scenario run: publishing plus draining.</summary>
    public TimeSpan DurationLimit { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>After publishing, how long to wait for missing outputs without any arriving.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string ReportPath { get; init; } = "load-report.md";

    /// <summary>Exit 1 when a QoS 1 target is missed.</summary>
    public bool EnforceTargets { get; init; }

    public bool Help { get; init; }

    /// <summary>The arguments as given, for the report.</summary>
    public string CommandLine { get; init; } = "";

    public static string Usage => """
        TelemetryGateway.LoadTest: devices -> (mosquitto bridge | gateway) -> cloud broker, all on 127.0.0.1

          dotnet run -c Release --project benchmarks/TelemetryGateway.LoadTest -- [options]

          --devices N                 simulated devices, one MQTT connection each (100)
          --messages-per-device N     status messages each device publishes (200)
          --qos 0,1                   QoS levels to run (0,1)
          --scenarios LIST            baseline,gateway (default); add 'direct' for the generator's own ceiling;
                                      'gateway-batch': the gateway with Gateway:Upstream:Batch:Enabled=true;
                                      'workers': gateway workers (ingress mode amqp) on a 3-node RabbitMQ cluster
          --workers LIST              worker counts of the 'workers' scenario (1,2,3)
          --brokers LIST              default,tuned (default): mosquitto as installed (Nagle on), and with set_tcp_nodelay true
          --window N                  QoS 1 publishes in flight per device (32); 1 = one message at a time, as most
                                      device SDKs publish: adds the round trip per message and its targets
          --idle-devices N            connected devices that publish nothing, held open through each run (0); reports
                                      the relay's memory per connection. 10,000 connected: --devices 100 --idle-devices 9900
          --rate-per-device R         messages/s per device; 0 = as fast as the window allows (0)
          --gateway-dll PATH          the gateway to start (src/TelemetryGateway.Host/bin/Release/net10.0/telemetry-gateway.dll)
          --gateway-setting K=V       extra setting for that gateway, repeatable (e.g. Gateway:Mqtt:Transport=tcp)
          --gateway-outputs N         upstream outputs per status message (2)
          --duration-limit SECONDS    bound of one scenario run, publishing + drain (120)
          --drain-timeout SECONDS     wait for missing outputs after the last one arrived (10)
          --warmup N                  unmeasured messages sent before each run by all devices together (20000)
          --report PATH               also write the report here (load-report.md)
          --enforce-targets           exit 1 when a QoS 1 target is missed

        Exit codes: 0 done, 1 target missed (with --enforce-targets), 2 bad arguments, 3 a broker or the gateway
        failed to start or died, or a scenario could not carry a single message.
        """;

    private static readonly HashSet<string> ValueOptions =
    [
        "--devices", "--idle-devices", "--messages-per-device", "--qos", "--scenarios", "--brokers", "--window", "--rate-per-device", "--gateway-dll",
        "--gateway-endpoint", "--upstream-port", "--gateway-outputs", "--duration-limit", "--drain-timeout", "--report", "--warmup",
        "--gateway-setting", "--workers",
    ];

    private static string Setting(string value, List<string> errors)
    {
        if (!value.StartsWith("Gateway:", StringComparison.Ordinal) || !value.Contains('=', StringComparison.Ordinal))
        {
            errors.Add($"--gateway-setting: '{value}' is not Gateway:Key=Value");
        }
        return value;
    }

    public static (LoadTestOptions Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        var options = new LoadTestOptions { CommandLine = string.Join(' ', args.Select(Quote)) };
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h")
            {
                options = options with { Help = true };
                continue;
            }
            if (name == "--enforce-targets")
            {
                options = options with { EnforceTargets = true };
                continue;
            }
            if (!ValueOptions.Contains(name))
            {
                errors.Add($"{name}: unknown option");
                continue;
            }
            if (i + 1 >= args.Count)
            {
                errors.Add($"{name}: missing value");
                break;
            }
            var value = args[++i];
            options = name switch
            {
                "--devices" => options with { Devices = Int(name, value, 1, 10_000, errors) },
                "--idle-devices" => options with { IdleDevices = Int(name, value, 0, 50_000, errors) },
                "--messages-per-device" => options with { MessagesPerDevice = Int(name, value, 1, 1_000_000, errors) },
                "--qos" => options with { QosLevels = QosList(value, errors) },
                "--scenarios" => options with { Scenarios = ScenarioList(value, errors) },
                "--workers" => options with { WorkerCounts = WorkerList(value, errors) },
                "--brokers" => options with { Brokers = BrokerList(value, errors) },
                "--window" => options with { Window = Int(name, value, 1, 1_000, errors) },
                "--rate-per-device" => options with { RatePerDevice = Seconds(name, value, 0, 100_000, errors) },
                "--gateway-dll" => options with { GatewayDll = value },
                "--gateway-endpoint" => options with { GatewayPort = LoopbackPort(name, value, errors) },
                "--upstream-port" => options with { UpstreamPort = Int(name, value, 1, 65_535, errors) },
                "--gateway-outputs" => options with { GatewayOutputsPerMessage = Int(name, value, 1, 100, errors) },
                "--duration-limit" => options with { DurationLimit = TimeSpan.FromSeconds(Seconds(name, value, 1, 3_600, errors)) },
                "--drain-timeout" => options with { DrainTimeout = TimeSpan.FromSeconds(Seconds(name, value, 0, 600, errors)) },
                "--report" => options with { ReportPath = value },
                "--warmup" => options with { WarmUpMessages = Int(name, value, 0, 1_000_000, errors) },
                "--gateway-setting" => options with { GatewaySettings = [.. options.GatewaySettings, Setting(value, errors)] },
                _ => options,
            };
        }
        if (options.GatewayPort is not null && options.Scenarios.Contains(ScenarioKind.Gateway) && options.UpstreamPort is null)
        {
            errors.Add("--gateway-endpoint: also give --upstream-port, the cloud broker port the running gateway forwards to");
        }
        return (options, errors);
    }

    /// <summary>The gateway dll: as given, else the Release build under the repository root found above the current directory or the tool.</summary>
    public string ResolveGatewayDll()
    {
        if (GatewayDll is not null)
        {
            return Path.GetFullPath(GatewayDll);
        }
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TelemetryGateway.sln")))
                {
                    return Path.Combine(dir.FullName, DefaultGatewayDll);
                }
            }
        }
        return Path.GetFullPath(DefaultGatewayDll);
    }

    private static int Int(string name, string value, int min, int max, List<string> errors)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
        {
            return n;
        }
        errors.Add($"{name}: '{value}' is not an integer from {min} to {max}");
        return min;
    }

    private static double Seconds(string name, string value, double min, double max, List<string> errors)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
        {
            return n;
        }
        errors.Add($"{name}: '{value}' is not a number from {min} to {max}");
        return Math.Max(min, 1);
    }

    private static byte[] QosList(string value, List<string> errors)
    {
        var levels = new List<byte>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item is "0" or "1")
            {
                levels.Add(item == "0" ? (byte)0 : (byte)1);
            }
            else
            {
                errors.Add($"--qos: '{item}' is not 0 or 1");
            }
        }
        if (levels.Count == 0)
        {
            errors.Add("--qos: no QoS level given");
        }
        return [.. levels.Distinct()];
    }

    private static ScenarioKind[] ScenarioList(string value, List<string> errors)
    {
        var kinds = new List<ScenarioKind>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Enum.TryParse<ScenarioKind>(item.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var kind) && Enum.IsDefined(kind))
            {
                kinds.Add(kind);
            }
            else
            {
                errors.Add($"--scenarios: '{item}' is not one of direct, baseline, gateway, gateway-batch, workers");
            }
        }
        if (kinds.Count == 0)
        {
            errors.Add("--scenarios: no scenario given");
        }
        return [.. kinds.Distinct().Order()];
    }

    private static int[] WorkerList(string value, List<string> errors)
    {
        var counts = new List<int>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 16)
            {
                counts.Add(count);
            }
            else
            {
                errors.Add($"--workers: '{item}' is not a number of workers from 1 to 16");
            }
        }
        if (counts.Count == 0)
        {
            errors.Add("--workers: no worker count given");
        }
        return [.. counts.Distinct()];
    }

    private static BrokerTuning[] BrokerList(string value, List<string> errors)
    {
        var tunings = new List<BrokerTuning>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Enum.TryParse<BrokerTuning>(item, ignoreCase: true, out var tuning) && Enum.IsDefined(tuning))
            {
                tunings.Add(tuning);
            }
            else
            {
                errors.Add($"--brokers: '{item}' is not one of default, tuned");
            }
        }
        if (tunings.Count == 0)
        {
            errors.Add("--brokers: no broker configuration given");
        }
        return [.. tunings.Distinct()];
    }

    private static int? LoopbackPort(string name, string value, List<string> errors)
    {
        var colon = value.LastIndexOf(':');
        var host = colon < 0 ? "127.0.0.1" : value[..colon];
        var port = colon < 0 ? value : value[(colon + 1)..];
        if (host is not ("127.0.0.1" or "localhost"))
        {
            errors.Add($"{name}: '{value}': the benchmark only talks to 127.0.0.1");
            return null;
        }
        return Int(name, port, 1, 65_535, errors);
    }

    private static string Quote(string arg) => arg.Contains(' ', StringComparison.Ordinal) ? $"\"{arg}\"" : arg;
}
