using System.Globalization;
using System.Text;
using MQTTnet.Formatter;
using RabbitMQ.Client;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.EndToEnd.Tests.Workers;

/// <summary>
/// What the amqp-mode tests share: the operator's topology (a quorum queue bound to <c>amq.topic</c> with a dead-letter
/// exchange), worker settings, devices publishing MQTT 3.1.1 QoS 1 with sequence numbers and failing over among the
/// nodes' MQTT ports, and the checks on what reached the cloud.
/// </summary>
internal static class AmqpScenario
{
    public const string Queue = "telemetry";
    public const string DeadLetters = "telemetry.dead-letters";
    public const string ReadyLine = "Worker consuming the queue on";
    public const int Purposes = 3;

    /// <summary>Declared before devices publish, as an operator's definitions file would (deploy/rabbitmq/definitions.json).</summary>
    public static async Task DeclareTopologyAsync(RabbitNode node)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(DeadLetters, ExchangeType.Fanout, durable: true);
        await channel.QueueDeclareAsync(DeadLetters, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
        await channel.QueueBindAsync(DeadLetters, DeadLetters, "");
        await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum", ["x-dead-letter-exchange"] = DeadLetters });
        // The MQTT plugin publishes to amq.topic with '/' mapped to '.': device topics dt/# are routing keys dt.#.
        await channel.QueueBindAsync(Queue, "amq.topic", "dt.#");
    }

    public static string[] WorkerSettings(int worker, string amqpUrls, int upstreamPort, string keyFile, string queue = Queue) =>
    [
        "--Gateway:Ingress:Mode=amqp",
        $"--Gateway:Ingress:Url={amqpUrls}",
        $"--Gateway:Ingress:Queue={queue}",
        $"--Gateway:Ingress:ClientId=worker-{worker}",
        "--Gateway:Ingress:Prefetch=16",
        $"--Gateway:GatewayId=worker-{worker}",
        $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstreamPort}",
        $"--Gateway:Upstream:ClientId=worker-{worker}-upstream",
        $"--Gateway:Pseudonymization:KeyFile={keyFile}",
    ];

    public static string Topic(int sequence) => $"dt/anker_power/A17C0/SERIAL000000000{sequence % 3}/firmware";

    public static byte[] Payload(int sequence) =>
        Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL000000000{{sequence % 3}}","sw_version":"v{{sequence}}"}""");

    /// <summary>
    /// A device: MQTT 3.1.1, QoS 1, retrying each message until a PUBACK and moving to the next node's MQTT port when its
    /// connection fails; bounded by <paramref name="timeout"/> per message.
    /// </summary>
    internal sealed class Device(IReadOnlyList<int> mqttPorts, string clientId, TimeSpan timeout) : IAsyncDisposable
    {
        private Client? _client;
        private int _port;

        public int Retries { get; private set; }

        public async Task PublishAsync(string topic, byte[] payload)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                try
                {
                    _client ??= await Client.ConnectAsync(mqttPorts[_port], clientId, MqttProtocolVersion.V311);
                    var result = await _client.PublishAsync(topic, payload);
                    if (result.IsSuccess)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException
                    or MQTTnet.Exceptions.MqttClientNotConnectedException or MQTTnet.Adapter.MqttConnectingFailedException)
                {
                    // The node went away: the next one.
                }
                Retries++;
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"no PUBACK for a message within {timeout.TotalSeconds} s over {Retries} attempts");
                }
                if (_client is not null)
                {
                    _client.Abort();
                    _client = null;
                }
                _port = (_port + 1) % mqttPorts.Count;
                await Task.Delay(200);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_client is not null)
            {
                await _client.DisposeAsync();
            }
        }
    }

    /// <summary>Checks every sequence number arrived for each purpose, minimized and tagged; returns the duplicates.</summary>
    public static int AssertAllArrived(IReadOnlyList<Received> received, int messages, string logs)
    {
        var seen = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (var message in received)
        {
            var envelope = Envelope.Parser.ParseFrom(message.Payload);
            Assert.Equal(envelope.Purpose, message.Properties["purpose"]);
            Assert.StartsWith("solix-default@", message.Properties["policy"], StringComparison.Ordinal);
            var json = System.Text.Json.JsonDocument.Parse(envelope.Payload.ToStringUtf8()).RootElement;
            var sequence = int.Parse(json.GetProperty("sw_version").GetString()!.AsSpan(1), CultureInfo.InvariantCulture);
            if (envelope.Purpose == "product-improvement")
            {
                Assert.DoesNotContain("SERIAL", envelope.Payload.ToStringUtf8(), StringComparison.Ordinal);
                Assert.DoesNotContain("SERIAL", message.Topic, StringComparison.Ordinal);
            }
            if (!seen.TryGetValue(envelope.Purpose, out var sequences))
            {
                seen[envelope.Purpose] = sequences = [];
            }
            sequences.Add(sequence);
        }
        Assert.True(seen.Count == Purposes, $"expected {Purposes} purposes, got {string.Join(",", seen.Keys)}; worker logs:\n{logs}");
        foreach (var (purpose, sequences) in seen)
        {
            var missing = Enumerable.Range(0, messages).Where(i => !sequences.Contains(i)).ToList();
            Assert.True(missing.Count == 0, $"{purpose}: {missing.Count} sequence numbers missing (first {string.Join(",", missing.Take(10))}); worker logs:\n{logs}");
        }
        return received.Count - messages * Purposes;
    }

    /// <summary>Ready and unacknowledged messages of the queue, from rabbitmqctl.</summary>
    public static async Task<(long Ready, long Unacknowledged)> QueueDepthAsync(RabbitCluster cluster, RabbitNode node, string queue = Queue)
    {
        var lines = (await cluster.CtlAsync(node, "list_queues", "--quiet", "--no-table-headers", "name", "messages_ready", "messages_unacknowledged"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var line in lines)
        {
            var columns = line.Split('\t', StringSplitOptions.TrimEntries);
            if (columns.Length == 3 && columns[0] == queue)
            {
                return (long.Parse(columns[1], CultureInfo.InvariantCulture), long.Parse(columns[2], CultureInfo.InvariantCulture));
            }
        }
        throw new InvalidOperationException($"queue {queue} not listed: {string.Join(" | ", lines)}");
    }

    public static long Counted(string log, string pattern)
    {
        var matches = System.Text.RegularExpressions.Regex.Matches(log, pattern);
        return matches.Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }
}
