using System.Diagnostics;
using System.Globalization;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>
/// The RabbitMQ cluster of the <c>workers</c> scenario: 3 nodes on this machine, started the way the end-to-end tests
/// start theirs (<c>tests/TelemetryGateway.EndToEnd.Tests/Support/RabbitCluster.cs</c>, shared source), once for
/// every run of the benchmark, with the operator's topology imported: a quorum queue bound to <c>amq.topic</c> for the
/// device topics, and its dead-letter exchange. Each run starts with the queue purged. Stopped by process id at the end.
/// </summary>
internal sealed class WorkerCluster : IAsyncDisposable
{
    public const string Queue = "telemetry";
    private const int Nodes = 3;
    private static WorkerCluster? s_shared;

    private WorkerCluster(RabbitCluster cluster, string directory)
    {
        Cluster = cluster;
        KeyFile = Path.Combine(directory, "pseudonymization.key");
        File.WriteAllBytes(KeyFile, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        Directory = directory;
    }

    public RabbitCluster Cluster { get; }

    /// <summary>The key every worker shares (required in the worker modes).</summary>
    public string KeyFile { get; }

    private string Directory { get; }

    /// <summary>The cluster, started on first use.</summary>
    public static async Task<WorkerCluster> SharedAsync(TextWriter progress)
    {
        if (s_shared is not null)
        {
            return s_shared;
        }
        progress.WriteLine($"  starting a {Nodes}-node RabbitMQ cluster (once for every workers run)");
        var started = Stopwatch.GetTimestamp();
        var cluster = await RabbitCluster.StartAsync(Nodes);
        var directory = System.IO.Directory.CreateTempSubdirectory("tg-load-workers-").FullName;
        var shared = new WorkerCluster(cluster, directory);
        try
        {
            var definitions = Path.Combine(directory, "definitions.json");
            await File.WriteAllTextAsync(definitions, $$"""
                {
                  "exchanges": [{ "name": "{{Queue}}.dead-letters", "vhost": "/", "type": "fanout", "durable": true, "auto_delete": false, "internal": false, "arguments": {} }],
                  "queues": [{ "name": "{{Queue}}", "vhost": "/", "durable": true, "auto_delete": false,
                               "arguments": { "x-queue-type": "quorum", "x-dead-letter-exchange": "{{Queue}}.dead-letters" } }],
                  "bindings": [{ "source": "amq.topic", "vhost": "/", "destination": "{{Queue}}", "destination_type": "queue", "routing_key": "dt.#", "arguments": {} }]
                }
                """);
            await cluster.CtlAsync(cluster.Nodes[0], "import_definitions", definitions);
        }
        catch
        {
            await shared.DisposeAsync();
            throw;
        }
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  cluster up in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s"));
        s_shared = shared;
        return shared;
    }

    /// <summary>Stops the shared cluster when one was started.</summary>
    public static async Task StopSharedAsync()
    {
        if (s_shared is { } shared)
        {
            s_shared = null;
            await shared.DisposeAsync();
        }
    }

    /// <summary>The worker URLs: every node's AMQP port, the guest user (loopback only).</summary>
    public string AmqpUrls => Cluster.AmqpUrls;

    /// <summary>The MQTT port of the node the devices publish to.</summary>
    public int DeviceMqttPort => Cluster.Nodes[0].MqttPort;

    /// <summary>Empties the queue, so that a run does not inherit what an earlier one left.</summary>
    public Task PurgeAsync() => Cluster.CtlAsync(Cluster.Nodes[0], "purge_queue", Queue);

    /// <summary>CPU time of every node's Erlang VM together.</summary>
    public TimeSpan CpuTime()
    {
        var total = TimeSpan.Zero;
        foreach (var node in Cluster.Nodes)
        {
            if (node.VmProcessId is { } pid)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    total += process.TotalProcessorTime;
                }
                catch (ArgumentException)
                {
                    // The node is gone: its CPU time no longer counts.
                }
            }
        }
        return total;
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
