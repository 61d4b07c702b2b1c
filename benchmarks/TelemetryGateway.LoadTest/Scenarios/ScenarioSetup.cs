using System.Net;
using TelemetryGateway.LoadTest.Processes;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>
/// The processes of one scenario run, started fresh for each run: where devices publish, where the cloud subscriber
/// listens, and how many outputs one status message should yield there.
/// </summary>
internal sealed class ScenarioSetup : IAsyncDisposable
{
    /// <summary>The baseline bridge puts the site's <c>dt/...</c> topics under this prefix on the cloud broker.</summary>
    public const string BridgePrefix = "bridged/";

    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<Func<string?>> _health = [];
    private readonly List<CpuMeter> _cpu = [];

    private ScenarioSetup(ScenarioKind kind, BrokerTuning brokers)
    {
        Kind = kind;
        Brokers = brokers;
    }

    public ScenarioKind Kind { get; }

    public BrokerTuning Brokers { get; }

    public IPEndPoint DeviceEndpoint { get; private set; } = Loopback.Endpoint(0);

    public IPEndPoint SubscriberEndpoint { get; private set; } = Loopback.Endpoint(0);

    public string TopicFilter { get; private set; } = "#";

    public int OutputsPerMessage { get; private set; } = 1;

    /// <summary>The processes whose CPU time the run accounts for: the relay (site broker or gateway), the cloud broker.</summary>
    public IReadOnlyList<CpuMeter> CpuMeters => _cpu;

    /// <summary>Resident memory of the relay (gateway or site broker) now, bytes; null when the benchmark did not start it.</summary>
    public Func<long>? RelayWorkingSet { get; private set; }

    /// <summary>Configs and command lines, for the report's appendix.</summary>
    public List<string> Description { get; } = [];

    /// <summary>Each worker's CPU time now (the <c>workers</c> scenario), in the order they were started.</summary>
    public List<Func<TimeSpan>> WorkerCpu { get; } = [];

    public static async Task<ScenarioSetup> StartAsync(ScenarioKind kind, BrokerTuning brokers, LoadTestOptions options, int workers = 0, TextWriter? progress = null)
    {
        var setup = new ScenarioSetup(kind, brokers);
        try
        {
            switch (kind)
            {
                case ScenarioKind.Direct:
                    {
                        var port = Loopback.FreePort();
                        var broker = await setup.OwnAsync(Mosquitto.StartAsync("site+cloud", port, Mosquitto.PlainConfig(port, brokers)));
                        setup.DeviceEndpoint = setup.SubscriberEndpoint = broker.Endpoint;
                        setup.TopicFilter = "dt/#";
                        setup.Describe(broker);
                        break;
                    }
                case ScenarioKind.Baseline:
                    {
                        var cloud = await setup.StartCloudAsync(null);
                        var sitePort = Loopback.FreePort();
                        var site = await setup.OwnAsync(Mosquitto.StartAsync("site, bridged", sitePort, Mosquitto.BridgeConfig(sitePort, cloud.Port, BridgePrefix, brokers)));
                        setup._cpu.Insert(0, new CpuMeter(CpuRole.Relay, () => site.CpuTime));
                        setup.RelayWorkingSet = () => site.WorkingSet;
                        setup.DeviceEndpoint = site.Endpoint;
                        setup.SubscriberEndpoint = cloud.Endpoint;
                        setup.TopicFilter = BridgePrefix + "dt/#";
                        setup.Describe(site);
                        break;
                    }
                case ScenarioKind.Gateway:
                case ScenarioKind.GatewayBatch:
                    {
                        var cloud = await setup.StartCloudAsync(options.UpstreamPort);
                        setup.SubscriberEndpoint = cloud.Endpoint;
                        setup.TopicFilter = options.UpstreamTopicPrefix + "/#";
                        setup.OutputsPerMessage = options.GatewayOutputsPerMessage;
                        if (options.GatewayPort is { } running && kind == ScenarioKind.Gateway)
                        {
                            setup.DeviceEndpoint = Loopback.Endpoint(running);
                            setup.Description.Add($"gateway: already running on 127.0.0.1:{running} (not started by the benchmark)");
                        }
                        else
                        {
                            // Loopback clients count only toward the gateway's total connection limit (5,000 by default).
                            var connections = options.Devices + options.IdleDevices + 100;
                            IReadOnlyList<string> settings = connections > 5_000
                                ? [.. options.GatewaySettings, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Gateway:Security:Limits:MaxConnections={connections}")]
                                : options.GatewaySettings;
                            if (kind == ScenarioKind.GatewayBatch)
                            {
                                settings = [.. settings, "Gateway:Upstream:Batch:Enabled=true"];
                            }
                            var gateway = await setup.OwnAsync(GatewayProcess.StartAsync(
                                options.ResolveGatewayDll(), Loopback.FreePort(), cloud.Port, options.UpstreamTopicPrefix, settings));
                            setup.DeviceEndpoint = gateway.Endpoint;
                            setup._health.Add(() => gateway.Failure);
                            setup._cpu.Insert(0, new CpuMeter(CpuRole.Relay, () => gateway.CpuTime));
                            setup.RelayWorkingSet = () => gateway.WorkingSet;
                            setup.Description.Add($"gateway: `{gateway.CommandLine}`");
                        }
                        break;
                    }
                case ScenarioKind.Workers:
                    {
                        var cloud = await setup.StartCloudAsync(options.UpstreamPort);
                        setup.SubscriberEndpoint = cloud.Endpoint;
                        setup.TopicFilter = options.UpstreamTopicPrefix + "/#";
                        setup.OutputsPerMessage = options.GatewayOutputsPerMessage;
                        var cluster = await WorkerCluster.SharedAsync(progress ?? TextWriter.Null);
                        await cluster.PurgeAsync();
                        setup.DeviceEndpoint = Loopback.Endpoint(cluster.DeviceMqttPort);
                        setup._cpu.Add(new CpuMeter(CpuRole.Cluster, cluster.CpuTime));
                        var started = new List<GatewayProcess>();
                        for (var i = 0; i < workers; i++)
                        {
                            // A worker opens no MQTT listener: it is up once its admin listener accepts connections.
                            var adminPort = Loopback.FreePort();
                            var worker = await setup.OwnAsync(GatewayProcess.StartAsync(options.ResolveGatewayDll(), adminPort, cloud.Port, options.UpstreamTopicPrefix,
                            [
                                .. options.GatewaySettings,
                                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Gateway:Mqtt:Port={Loopback.FreePort()}"),
                                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Gateway:Admin:Port={adminPort}"),
                                "Gateway:Ingress:Mode=amqp",
                                $"Gateway:Ingress:Url={cluster.AmqpUrls}",
                                $"Gateway:Ingress:Queue={WorkerCluster.Queue}",
                                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Gateway:Ingress:ClientId=load-worker-{i}"),
                                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Gateway:GatewayId=load-worker-{i}"),
                                $"Gateway:Pseudonymization:KeyFile={cluster.KeyFile}",
                            ]));
                            started.Add(worker);
                            setup._health.Add(() => worker.Failure);
                            setup.WorkerCpu.Add(() => worker.CpuTime);
                            setup.Description.Add($"worker {i}: `{worker.CommandLine.Replace(cluster.AmqpUrls, "AMQP-URLS", StringComparison.Ordinal)}`");
                        }
                        setup._cpu.Insert(0, new CpuMeter(CpuRole.Relay, () => started.Aggregate(TimeSpan.Zero, (sum, w) => sum + w.CpuTime)));
                        setup.Description.Add($"RabbitMQ: {cluster.Cluster.Nodes.Count} nodes clustered on this machine, rabbitmq_mqtt; quorum queue '{WorkerCluster.Queue}' bound to amq.topic 'dt.#'; devices on node 0's MQTT port");
                        break;
                    }
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
            }
            return setup;
        }
        catch
        {
            await setup.DisposeAsync();
            throw;
        }
    }

    /// <summary>Why a child process of this run is gone, or null while all are up.</summary>
    public string? Failure => _health.Select(check => check()).FirstOrDefault(failure => failure is not null);

    public async ValueTask DisposeAsync()
    {
        // Stop the sender side first so the cloud broker does not see a burst of reconnects.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
        _owned.Clear();
    }

    private async Task<Mosquitto> StartCloudAsync(int? fixedPort)
    {
        var port = fixedPort ?? Loopback.FreePort();
        var cloud = await OwnAsync(Mosquitto.StartAsync("cloud", port, Mosquitto.PlainConfig(port, Brokers)));
        _cpu.Add(new CpuMeter(CpuRole.CloudBroker, () => cloud.CpuTime));
        Describe(cloud);
        return cloud;
    }

    private async Task<T> OwnAsync<T>(Task<T> starting)
        where T : IAsyncDisposable
    {
        var started = await starting;
        _owned.Add(started);
        if (started is Mosquitto broker)
        {
            _health.Add(() => broker.Failure);
        }
        return started;
    }

    private void Describe(Mosquitto broker) =>
        Description.Add($"mosquitto ({broker.Name}):{Environment.NewLine}```{Environment.NewLine}{broker.Config.TrimEnd()}{Environment.NewLine}```");
}
