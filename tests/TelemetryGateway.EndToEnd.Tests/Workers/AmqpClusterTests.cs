using TelemetryGateway.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace TelemetryGateway.EndToEnd.Tests.Workers;

/// <summary>A 3-node RabbitMQ cluster on this machine (rabbitmq_mqtt on every node), started once for the class.</summary>
public sealed class ThreeRabbitNodes() : RabbitNodes(3);

/// <summary>
/// Ingress mode <c>amqp</c> on a 3-node cluster: devices publish across the nodes' MQTT ports, three workers consume the
/// quorum queue; one worker and then the node leading the queue are killed with SIGKILL mid-run and restarted; every
/// sequence number arrives and the queue drains to nothing ready and nothing unacknowledged.
/// </summary>
public sealed class AmqpClusterTests(ThreeRabbitNodes rabbit, ITestOutputHelper output) : IClassFixture<ThreeRabbitNodes>
{
    private const int Workers = 3;
    private const int Messages = 300;
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Every_message_arrives_when_a_worker_and_the_quorum_leader_are_killed_and_restarted()
    {
        var cluster = rabbit.Cluster;
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        var workers = new List<GatewayProcess>();
        RabbitNode? leader = null;
        try
        {
            for (var i = 0; i < Workers; i++)
            {
                workers.Add(await GatewayProcess.StartWorkerAsync(temp.Combine($"worker-{i}"), AmqpScenario.ReadyLine,
                    AmqpScenario.WorkerSettings(i, cluster.AmqpUrls, upstream.Port, temp.KeyFile)));
            }
            var mqttPorts = cluster.Nodes.Select(n => n.MqttPort).ToList();
            var devices = Enumerable.Range(0, 3).Select(d => new AmqpScenario.Device([.. mqttPorts.Skip(d), .. mqttPorts.Take(d)], $"A17C0-device-{d}", TimeSpan.FromSeconds(60))).ToList();
            try
            {
                for (var i = 0; i < Messages; i++)
                {
                    if (i == Messages / 4 / 2)
                    {
                        // Warm: the workers are delivering (half of what was published has arrived).
                        Assert.True(await Loopback.EventuallyAsync(() => cloud.Messages.Count >= i / 2 * AmqpScenario.Purposes, s_delivery), "nothing was delivered before the kill");
                    }
                    if (i == Messages / 4)
                    {
                        // SIGKILL while messages flow (the device has not paused): deliveries in processing are lost with the worker.
                        await workers[0].KillAsync();
                    }
                    if (i == Messages / 2)
                    {
                        leader = await LeaderAsync(cluster);
                        output.WriteLine($"killing the queue's leader, node {cluster.Nodes.IndexOf(leader)}");
                        await RabbitCluster.KillAsync(leader);
                    }
                    if (i == 3 * Messages / 4)
                    {
                        await workers[0].StartAsync();
                        cluster.Start(leader!);
                        await cluster.AwaitStartupAsync(leader!);
                    }
                    // Devices take turns, each starting on a different node: the killed leader had devices on it.
                    await devices[i % devices.Count].PublishAsync(AmqpScenario.Topic(i), AmqpScenario.Payload(i));
                }
                output.WriteLine($"device retries (no PUBACK, or the node went away): {devices.Sum(d => d.Retries)}");
            }
            finally
            {
                foreach (var device in devices)
                {
                    await device.DisposeAsync();
                }
            }

            var expected = Messages * AmqpScenario.Purposes;
            await cloud.WaitForAsync(expected, s_delivery);
            await Task.Delay(1000);
            var logs = string.Join("\n---\n", workers.Select(w => w.Output));
            var duplicates = AmqpScenario.AssertAllArrived([.. cloud.Messages], Messages, logs);

            var node = cluster.Nodes.First(n => n != leader);
            Assert.True(await Loopback.EventuallyAsync(() => AmqpScenario.QueueDepthAsync(cluster, node).GetAwaiter().GetResult() == (0, 0), TimeSpan.FromSeconds(60)),
                $"the queue did not drain: {await AmqpScenario.QueueDepthAsync(cluster, node)}");
            foreach (var worker in workers)
            {
                Assert.Equal(0, await worker.StopAsync());
            }
            var all = string.Join("\n", workers.Select(w => w.Output));
            output.WriteLine($"{cloud.Messages.Count} outputs for {expected} expected: {duplicates} duplicates; " +
                $"redeliveries received by the workers: {AmqpScenario.Counted(all, @"(\d+) redeliveries received")}");
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    /// <summary>The node leading the quorum queue, from rabbitmqctl (asked of a node that is up).</summary>
    private static async Task<RabbitNode> LeaderAsync(RabbitCluster cluster)
    {
        var lines = (await cluster.CtlAsync(cluster.Nodes[0], "list_queues", "--quiet", "--no-table-headers", "name", "leader", "members"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var columns = lines.Select(l => l.Split('\t', StringSplitOptions.TrimEntries)).First(c => c[0] == AmqpScenario.Queue);
        // A quorum queue replicated on every node of the cluster, so that losing its leader loses nothing.
        Assert.All(cluster.Nodes, n => Assert.Contains(n.Name, columns[2], StringComparison.Ordinal));
        return cluster.Nodes.Single(n => n.Name == columns[1]);
    }
}
