using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>A message as a subscriber received it: topic, payload bytes, MQTT 5 user properties, content type, expiry.</summary>
internal sealed record Received(string Topic, byte[] Payload, IReadOnlyDictionary<string, string> Properties, string? ContentType, uint ExpirySeconds);

/// <summary>A real MQTT client (MQTTnet) on loopback: a device, the app, or the cloud ingestion subscriber.</summary>
internal sealed class Client : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly ConcurrentQueue<Received> _received = new();

    private Client(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += args =>
        {
            var message = args.ApplicationMessage;
            var properties = (message.UserProperties ?? []).ToDictionary(p => p.Name, p => Encoding.UTF8.GetString(p.ValueBuffer.Span), StringComparer.Ordinal);
            _received.Enqueue(new Received(message.Topic, System.Buffers.BuffersExtensions.ToArray(message.Payload), properties, message.ContentType, message.MessageExpiryInterval));
            return Task.CompletedTask;
        };
    }

    public IReadOnlyCollection<Received> Messages => _received;
    public bool IsConnected => _client.IsConnected;

    public static async Task<Client> ConnectAsync(
        int port, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500, bool cleanSession = true,
        Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .WithCleanSession(cleanSession)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (!cleanSession && version == MqttProtocolVersion.V500)
        {
            builder.WithSessionExpiryInterval(3600);
        }
        configure?.Invoke(builder);
        await client.ConnectAsync(builder.Build());
        return new Client(client);
    }

    public async Task SubscribeAsync(string filter)
    {
        var options = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build();
        await _client.SubscribeAsync(options);
    }

    public async Task<MqttClientPublishResult> PublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).WithRetainFlag(retain).Build();
        return await _client.PublishAsync(message);
    }

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload) => PublishAsync(topic, Encoding.UTF8.GetBytes(payload));

    /// <summary>Publishes a message built by the test (MQTT 5 response topic, correlation data).</summary>
    public Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage message) => _client.PublishAsync(message);

    /// <summary>Waits until at least <paramref name="count"/> messages arrived; returns what arrived either way.</summary>
    public async Task<IReadOnlyList<Received>> WaitForAsync(int count, TimeSpan timeout)
    {
        await Loopback.EventuallyAsync(() => _received.Count >= count, timeout);
        return [.. _received];
    }

    /// <summary>Drops the TCP connection without DISCONNECT, as a device losing power would (its will is published).</summary>
    public void Abort() => _client.Dispose();

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }
        _client.Dispose();
    }
}

/// <summary>Debian's <c>mosquitto_pub</c>: a real third-party client publishing to the gateway.</summary>
internal static class MosquittoPub
{
    public static async Task PublishFileAsync(int port, string clientId, string topic, string file, int qos = 1, string version = "mqttv311")
    {
        using var process = Process.Start(new ProcessStartInfo("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", clientId, "-V", version,
             "-q", qos.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", topic, "-f", file])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"mosquitto_pub exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
    }
}
