using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RabbitMQ.Client;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Mqtt.Workers;
using Xunit.Abstractions;

namespace TelemetryGateway.EndToEnd.Tests.Workers;

/// <summary>The single RabbitMQ node shared by the amqp test classes that need one (started once for all of them).</summary>
[CollectionDefinition(Name)]
public sealed class OneRabbitNodeCollection : ICollectionFixture<SingleRabbitNode>
{
    public const string Name = "one RabbitMQ node";
}

/// <summary>
/// What becomes of one delivery in mode <c>amqp</c>, against a real RabbitMQ node: a delivery the killed worker held
/// unacknowledged goes to another worker and arrives upstream; a delivery whose outputs cannot be stored is requeued up
/// to <c>Gateway:Ingress:MaxDeliveries</c> and then dead-lettered; a processing fault is dead-lettered at once, never
/// requeued. Each test has its own exchange and queues, so none sees another's messages.
/// </summary>
[Collection(OneRabbitNodeCollection.Name)]
public sealed class AmqpDeliveryTests(SingleRabbitNode rabbit, ITestOutputHelper output)
{
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(60);
    private static readonly string[] s_tags = ["purpose", "legal-basis", "categories", "policy", "retention"];

    [Fact]
    public async Task A_delivery_the_killed_worker_held_unacknowledged_is_redelivered_to_another_worker_and_arrives()
    {
        const int Messages = 5;
        var cluster = rabbit.Cluster;
        var node = cluster.Nodes[0];
        var topology = await Topology.DeclareAsync(node, "held");
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var relay = new HeldRelay(upstream.Port);
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        // Worker 0 reaches the cloud through the relay; worker 1 directly.
        await using var held = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-0"), AmqpScenario.ReadyLine,
            AmqpScenario.WorkerSettings(0, cluster.AmqpUrls, relay.Port, temp.KeyFile, topology.Queue));
        Assert.True(await Loopback.EventuallyAsync(() => held.Output.Contains("Upstream 127.0.0.1", StringComparison.Ordinal), s_delivery), held.Output);

        // Held: worker 0's publishes get no PUBACK and reach nobody, so it cannot acknowledge what it consumed.
        relay.Hold();
        await topology.PublishAsync(Messages);
        // Killed well inside the upstream's 10 s publish timeout (after which the outputs would go to its outbox and
        // the deliveries would be acknowledged): once its first outputs are held and no more come for a moment.
        Assert.True(await Loopback.EventuallyAsync(() => relay.HeldBytes > 0, TimeSpan.FromSeconds(5)), "worker 0 published nothing: " + held.Output);
        await SettleAsync(() => relay.HeldBytes, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(3));
        await held.KillAsync();

        // No consumer is left: what worker 0 held is back in the queue, ready; nothing of it reached the cloud.
        Assert.True(await Loopback.EventuallyAsync(() => AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue).GetAwaiter().GetResult() == (Messages, 0), TimeSpan.FromSeconds(30)),
            $"the held deliveries did not return to the queue: {await AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue)}");
        Assert.Empty(cloud.Messages);
        relay.Release();

        await using var other = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-1"), AmqpScenario.ReadyLine,
            AmqpScenario.WorkerSettings(1, cluster.AmqpUrls, upstream.Port, temp.KeyFile, topology.Queue));
        await cloud.WaitForAsync(Messages * AmqpScenario.Purposes, s_delivery);
        await Task.Delay(500);
        var duplicates = AmqpScenario.AssertAllArrived([.. cloud.Messages], Messages, other.Output);
        Assert.True(await Loopback.EventuallyAsync(() => AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue).GetAwaiter().GetResult() == (0, 0), TimeSpan.FromSeconds(30)),
            $"the queue did not drain: {await AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue)}");
        Assert.Equal(0, await other.StopAsync());
        // Every one of them came to worker 1 marked as a redelivery.
        Assert.Equal(Messages, AmqpScenario.Counted(other.Output, @"(\d+) redeliveries received"));
        Assert.Equal(0, duplicates);
        output.WriteLine($"held by the killed worker: {Messages} deliveries ({relay.HeldBytes} bytes of outputs held); redelivered to worker 1 and arrived: {cloud.Messages.Count} outputs, {duplicates} duplicates");
    }

    [Fact]
    public async Task A_delivery_whose_outputs_cannot_be_stored_is_requeued_up_to_the_bound_then_dead_lettered()
    {
        const int Messages = 60;
        const int MaxDeliveries = 3;
        var cluster = rabbit.Cluster;
        var node = cluster.Nodes[0];
        var topology = await Topology.DeclareAsync(node, "unstored");
        using var temp = new TempDirectory();
        // No upstream listens, so every output goes to the outbox; bounded to 64 KiB, the outbox soon refuses them
        // ("database or disk is full"), as a full disk would.
        await using var worker = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-0"), AmqpScenario.ReadyLine,
        [
            .. AmqpScenario.WorkerSettings(0, cluster.AmqpUrls, Loopback.FreePort(), temp.KeyFile, topology.Queue),
            "--Gateway:Outbox:MaxFileBytes=65536",
            $"--Gateway:Ingress:MaxDeliveries={MaxDeliveries}",
        ]);

        await topology.PublishAsync(Messages);

        // Each delivery is either stored (acknowledged) or, not stored MaxDeliveries times, dead-lettered: the queue drains.
        Assert.True(await DrainedAsync(cluster, node, topology.Queue, TimeSpan.FromSeconds(120)),
            $"the queue did not drain: {await AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue)}");
        Assert.Equal(0, await worker.StopAsync());
        var rejected = AmqpScenario.Counted(worker.Output, @"(\d+) rejected to the dead-letter exchange");
        var requeued = AmqpScenario.Counted(worker.Output, @"(\d+) requeued");
        var deadLetters = await topology.DrainDeadLettersAsync();
        output.WriteLine($"{Messages} published: {rejected} dead-lettered after {MaxDeliveries} deliveries, {requeued} requeues, {Messages - rejected} stored in the 64 KiB outbox");
        Assert.InRange(rejected, 1, Messages - 1);
        Assert.Equal(rejected, deadLetters.Count);
        // Rejected by the worker (not expired, not over a queue limit), once each.
        Assert.All(deadLetters, d => Assert.Equal(("rejected", 1), (d.DeathReason, d.Deaths)));
        // Not requeued in a loop: a dead letter was returned MaxDeliveries - 1 times before it was rejected, and no
        // message more often than that (the outbox refused them all alike).
        Assert.InRange(requeued, rejected * (MaxDeliveries - 1), Messages * (MaxDeliveries - 1));
        Assert.Contains("the bound (Gateway:Ingress:MaxDeliveries)", worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_processing_fault_is_dead_lettered_once_and_never_requeued()
    {
        const int Messages = 3;
        var cluster = rabbit.Cluster;
        var node = cluster.Nodes[0];
        var topology = await Topology.DeclareAsync(node, "fault");
        using var temp = new TempDirectory();
        // A worker composed in this process, as the host composes it, whose upstream fails every publish with an
        // exception no delivery path expects (a fault outside the engine's own guard, like one in a gate or the encoder).
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<CompiledPolicy>(PolicyCompiler.CompileFile(GatewayProcess.Policy));
        services.AddSingleton<PseudonymizationKey>(PseudonymizationKey.FromFile(temp.KeyFile));
        services.AddSingleton<IUpstream>(new FaultingUpstream());
        var settings = new MqttGatewaySettings(
            new SiteBrokerOptions(),
            new UpstreamOptions { Url = $"mqtt://127.0.0.1:{Loopback.FreePort()}", ClientId = "fault-worker-upstream" },
            new OutboxOptions(),
            temp.Combine("worker"),
            "fault-worker",
            new SecurityOptions(),
            QuarantineOptions.Default)
        {
            Ingress = new IngressOptions { Mode = IngressOptions.Amqp, Url = cluster.AmqpUrls, Queue = topology.Queue, ClientId = "fault-worker" },
        };
        Directory.CreateDirectory(settings.DataDirectory);
        services.AddMqttGateway(settings, webHost: null);
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }
        var worker = provider.GetRequiredService<AmqpQueueWorker>();
        try
        {
            await topology.PublishAsync(Messages);
            Assert.True(await DrainedAsync(cluster, node, topology.Queue, TimeSpan.FromSeconds(60)),
                $"the queue did not drain: {await AmqpScenario.QueueDepthAsync(cluster, node, topology.Queue)}");
        }
        finally
        {
            for (var i = hosted.Count - 1; i >= 0; i--)
            {
                await hosted[i].StopAsync(CancellationToken.None);
            }
        }
        var deadLetters = await topology.DrainDeadLettersAsync();
        Assert.Equal(Messages, deadLetters.Count);
        Assert.All(deadLetters, d => Assert.Equal(("rejected", 1), (d.DeathReason, d.Deaths)));
        Assert.Equal(Messages, worker.Rejected);
        Assert.Equal(0, worker.Requeued);
        Assert.Equal(0, worker.Acknowledged);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Outputs_published_to_an_exchange_on_the_cluster_arrive_minimized_with_their_tags_as_headers()
    {
        const int Messages = 30;
        var cluster = rabbit.Cluster;
        var node = cluster.Nodes[0];
        var topology = await Topology.DeclareAsync(node, "exchange-out");
        // The operator's output side: an exchange, and the cloud's queue bound to every output topic under 'telemetry'.
        const string Outputs = "exchange-out.outputs", Cloud = "exchange-out.cloud";
        await using (var connection = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(Outputs, ExchangeType.Topic, durable: true);
            await channel.QueueDeclareAsync(Cloud, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
            await channel.QueueBindAsync(Cloud, Outputs, "telemetry.#");
        }
        using var temp = new TempDirectory();
        await using var worker = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-0"), AmqpScenario.ReadyLine,
        [
            "--Gateway:Ingress:Mode=amqp",
            $"--Gateway:Ingress:Url={cluster.AmqpUrls}",
            $"--Gateway:Ingress:Queue={topology.Queue}",
            "--Gateway:Ingress:ClientId=worker-0",
            "--Gateway:GatewayId=worker-0",
            $"--Gateway:Upstream:Url={cluster.AmqpUrls}",
            $"--Gateway:Upstream:Exchange={Outputs}",
            $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}",
        ]);

        await topology.PublishAsync(Messages);

        var received = new List<Received>();
        await using (var connection = await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var deadline = DateTime.UtcNow + s_delivery;
            while (received.Count < Messages * AmqpScenario.Purposes && DateTime.UtcNow < deadline)
            {
                var message = await channel.BasicGetAsync(Cloud, autoAck: true);
                if (message is null)
                {
                    await Task.Delay(100);
                    continue;
                }
                var headers = message.BasicProperties.Headers!;
                Assert.Equal(DeliveryModes.Persistent, message.BasicProperties.DeliveryMode);
                Assert.Equal("application/x-protobuf; proto=telemetry.v1.Envelope", message.BasicProperties.ContentType);
                // The tags, as headers; the routing key is the output topic with '/' as '.', as the MQTT plugin maps it.
                var properties = s_tags.ToDictionary(h => h, h => Encoding.UTF8.GetString((byte[])headers[h]!), StringComparer.Ordinal);
                var ttl = ulong.Parse(message.BasicProperties.Expiration!, System.Globalization.CultureInfo.InvariantCulture);
                received.Add(new Received(AmqpQueueWorker.TopicOf(message.RoutingKey), message.Body.ToArray(), properties, message.BasicProperties.ContentType, (uint)(ttl / 1000)));
            }
        }
        Assert.Equal(0, await worker.StopAsync());
        var duplicates = AmqpScenario.AssertAllArrived(received, Messages, worker.Output);
        Assert.All(received, r => Assert.StartsWith($"telemetry/{r.Properties["purpose"]}/", r.Topic, StringComparison.Ordinal));
        // The message TTL is the output's retention, as the MQTT message expiry is.
        Assert.All(received, r => Assert.True(r.ExpirySeconds > 0, "no message TTL from the retention"));
        Assert.Contains("Upstream exchange reached", worker.Output, StringComparison.Ordinal);
        output.WriteLine($"{received.Count} outputs from {Messages} messages through the exchange, {duplicates} duplicates");
    }

    /// <summary>
    /// Waits until the queue shows nothing ready and nothing unacknowledged twice, 6 s apart: the counts rabbitmqctl
    /// reports may lag the queue by its statistics interval (5 s), so one look at 0/0 right after a publish proves nothing.
    /// </summary>
    private static async Task<bool> DrainedAsync(RabbitCluster cluster, RabbitNode node, string queue, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await AmqpScenario.QueueDepthAsync(cluster, node, queue) == (0, 0))
            {
                await Task.Delay(TimeSpan.FromSeconds(6));
                if (await AmqpScenario.QueueDepthAsync(cluster, node, queue) == (0, 0))
                {
                    return true;
                }
            }
            await Task.Delay(500);
        }
        return false;
    }

    /// <summary>Waits until <paramref name="value"/> has not changed for <paramref name="quiet"/>, at most <paramref name="timeout"/>.</summary>
    private static async Task SettleAsync(Func<long> value, TimeSpan quiet, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = value();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(quiet);
            var now = value();
            if (now == last)
            {
                return;
            }
            last = now;
        }
    }

    /// <summary>An upstream that is connected and fails every publish with an unexpected exception.</summary>
    private sealed class FaultingUpstream : IUpstream
    {
        public int Window => 8;
        public bool IsConnected => true;
        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken) =>
            Task.FromException<PublishResult>(new InvalidDataException("a fault outside the engine's guard"));
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A dead letter's first <c>x-death</c> entry: why it died and how many times it died for that reason.</summary>
    internal sealed record DeadLetter(string DeathReason, long Deaths);

    /// <summary>
    /// A test's own topic exchange, quorum queue (bound to it as the operator binds <c>amq.topic</c>) and dead-letter
    /// exchange and queue. Messages are published over AMQP with the routing keys the MQTT plugin would give them.
    /// </summary>
    internal sealed class Topology(RabbitNode node, string name)
    {
        public string Exchange => $"{name}.topic";
        public string Queue => $"{name}.telemetry";
        public string DeadLetters => $"{name}.dead-letters";

        public static async Task<Topology> DeclareAsync(RabbitNode node, string name)
        {
            var topology = new Topology(node, name);
            await using var connection = await Connect(node);
            await using var channel = await connection.CreateChannelAsync();
            await channel.ExchangeDeclareAsync(topology.Exchange, ExchangeType.Topic, durable: true);
            await channel.ExchangeDeclareAsync(topology.DeadLetters, ExchangeType.Fanout, durable: true);
            await channel.QueueDeclareAsync(topology.DeadLetters, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
            await channel.QueueBindAsync(topology.DeadLetters, topology.DeadLetters, "");
            await channel.QueueDeclareAsync(topology.Queue, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum", ["x-dead-letter-exchange"] = topology.DeadLetters });
            await channel.QueueBindAsync(topology.Queue, topology.Exchange, "dt.#");
            return topology;
        }

        private static Task<IConnection> Connect(RabbitNode node) =>
            new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") }.CreateConnectionAsync();

        /// <summary>Publishes messages 0 to <paramref name="count"/>-1 with publisher confirms (each is in the queue on return).</summary>
        public async Task PublishAsync(int count)
        {
            await using var connection = await Connect(node);
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            for (var i = 0; i < count; i++)
            {
                var routingKey = AmqpQueueWorker.TopicOf(AmqpScenario.Topic(i));
                await channel.BasicPublishAsync(Exchange, routingKey, mandatory: true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, AmqpScenario.Payload(i));
            }
        }

        /// <summary>Takes every dead letter: why it died and how often.</summary>
        public async Task<List<DeadLetter>> DrainDeadLettersAsync()
        {
            var letters = new List<DeadLetter>();
            await using var connection = await Connect(node);
            await using var channel = await connection.CreateChannelAsync();
            for (var i = 0; i < 10_000; i++)
            {
                var message = await channel.BasicGetAsync(DeadLetters, autoAck: true);
                if (message is null)
                {
                    break;
                }
                var headers = message.BasicProperties.Headers;
                var reason = "";
                long count = 0;
                if (headers is not null && headers.TryGetValue("x-death", out var deaths) && deaths is IList<object> list && list.Count > 0
                    && list[0] is IDictionary<string, object?> death)
                {
                    reason = death.TryGetValue("reason", out var value) && value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : "";
                    count = death.TryGetValue("count", out var times) && times is long n ? n : 0;
                }
                letters.Add(new DeadLetter(reason, count));
            }
            return letters;
        }
    }
}
