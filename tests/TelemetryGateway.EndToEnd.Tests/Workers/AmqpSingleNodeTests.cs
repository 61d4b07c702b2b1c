using System.Text;
using TelemetryGateway.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace TelemetryGateway.EndToEnd.Tests.Workers;

/// <summary>One RabbitMQ node (rabbitmq_mqtt), started once for the classes of <see cref="OneRabbitNodeCollection"/>.</summary>
public sealed class SingleRabbitNode() : RabbitNodes(1);

/// <summary>RabbitMQ nodes of this machine clustered together (rabbitmq_mqtt on every node), with the queue topology declared.</summary>
public abstract class RabbitNodes(int nodes) : IAsyncLifetime
{
    private RabbitCluster? _cluster;

    internal RabbitCluster Cluster => _cluster ?? throw new InvalidOperationException("The RabbitMQ nodes did not start.");

    public async Task InitializeAsync()
    {
        _cluster = await RabbitCluster.StartAsync(nodes);
        await AmqpScenario.DeclareTopologyAsync(_cluster.Nodes[0]);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Ingress mode <c>amqp</c> against a real RabbitMQ node: devices publish MQTT 3.1.1 QoS 1 to its MQTT plugin, three
/// workers consume the quorum queue; one worker is killed mid-run and restarted; nothing is lost and the queue drains.
/// </summary>
[Collection(OneRabbitNodeCollection.Name)]
public sealed class AmqpSingleNodeTests(SingleRabbitNode rabbit, ITestOutputHelper output)
{
    private const int Workers = 3;
    private const int Messages = 300;
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Every_message_arrives_minimized_when_a_worker_is_killed_and_the_queue_drains()
    {
        var cluster = rabbit.Cluster;
        var node = cluster.Nodes[0];
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        var workers = new List<GatewayProcess>();
        try
        {
            for (var i = 0; i < Workers; i++)
            {
                workers.Add(await GatewayProcess.StartWorkerAsync(temp.Combine($"worker-{i}"), AmqpScenario.ReadyLine,
                    AmqpScenario.WorkerSettings(i, cluster.AmqpUrls, upstream.Port, temp.KeyFile)));
            }

            await using (var device = new AmqpScenario.Device([node.MqttPort], "A17C0-device", TimeSpan.FromSeconds(30)))
            {
                for (var i = 0; i < Messages; i++)
                {
                    if (i == Messages / 3 / 2)
                    {
                        // Warm: the workers are delivering (half of what was published has arrived).
                        Assert.True(await Loopback.EventuallyAsync(() => cloud.Messages.Count >= i / 2 * AmqpScenario.Purposes, s_delivery), "nothing was delivered before the kill");
                    }
                    if (i == Messages / 3)
                    {
                        // SIGKILL while messages flow (the device has not paused): deliveries in processing are lost with the worker.
                        await workers[0].KillAsync();
                    }
                    if (i == 2 * Messages / 3)
                    {
                        await workers[0].StartAsync();
                    }
                    await device.PublishAsync(AmqpScenario.Topic(i), AmqpScenario.Payload(i));
                }
                // Done with, and acknowledged: a message no stream matches and one the policy quarantines.
                await device.PublishAsync("dt/unknown_vendor/X1/SERIAL0000000001/status", Encoding.UTF8.GetBytes("{}"));
                await device.PublishAsync(AmqpScenario.Topic(0), Encoding.UTF8.GetBytes("{\"sn\":"));
            }

            var expected = Messages * AmqpScenario.Purposes;
            await cloud.WaitForAsync(expected, s_delivery);
            await Task.Delay(1000);
            var logs = string.Join("\n---\n", workers.Select(w => w.Output));
            var duplicates = AmqpScenario.AssertAllArrived([.. cloud.Messages], Messages, logs);

            Assert.True(await Loopback.EventuallyAsync(() => AmqpScenario.QueueDepthAsync(cluster, node).GetAwaiter().GetResult() == (0, 0), TimeSpan.FromSeconds(30)),
                $"the queue did not drain: {await AmqpScenario.QueueDepthAsync(cluster, node)}");
            foreach (var worker in workers)
            {
                Assert.Equal(0, await worker.StopAsync());
            }
            var all = string.Join("\n", workers.Select(w => w.Output));
            var acknowledged = workers.Select(w => AmqpScenario.Counted(w.Output, @"Worker stopped: (\d+) acknowledged")).ToList();
            output.WriteLine($"{cloud.Messages.Count} outputs for {expected} expected: {duplicates} duplicates; acknowledged per worker at the end (worker 0: since its restart): {string.Join(", ", acknowledged)}");
            Assert.Equal(1, AmqpScenario.Counted(all, @"(\d+) unmatched"));
            Assert.Equal(1, AmqpScenario.Counted(all, @"(\d+) quarantined"));
            Assert.All(acknowledged, a => Assert.True(a > 0, $"a worker acknowledged nothing; worker logs:\n{logs}"));
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }
}
