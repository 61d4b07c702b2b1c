using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Broker;

/// <summary>The site broker composed in DI on MQTTnet's own TCP listener, with a scripted upstream in place of the cloud.</summary>
public sealed class SiteBrokerCompositionTests : IDisposable
{
    private const string FirmwareTopic = "dt/anker_power/A17C0/SERIALCANARY0001/firmware";
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-broker-").FullName;
    private readonly int _port = FreePort();

    [Fact]
    public async Task Delivery_is_registered_before_the_broker_so_it_starts_first_and_stops_last()
    {
        await using var services = Compose(upstream: null).BuildServiceProvider();

        var hosted = services.GetServices<IHostedService>().Select(s => s.GetType().Name).ToList();

        Assert.True(hosted.IndexOf(nameof(DeliveryService)) < hosted.IndexOf(nameof(SiteBroker)), string.Join(", ", hosted));
    }

    [Fact]
    public async Task An_upstream_registered_before_the_gateway_replaces_the_configured_one_and_gets_every_output()
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        using var host = new HostBuilder().ConfigureServices(services => Compose(upstream, services)).Build();
        await host.StartAsync();
        try
        {
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithClientId("device-1").WithProtocolVersion(MqttProtocolVersion.V500).Build());
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(FirmwareTopic)
                .WithPayload(Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}"""))
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            await client.DisconnectAsync();
            client.Dispose();

            Assert.True(result.IsSuccess);
            // Acknowledged upstream directly, or stored first when the drainer had not connected yet and then drained.
            var outbox = host.Services.GetRequiredService<SqliteOutbox>();
            for (var i = 0; i < 250 && (upstream.Acknowledged.Count < 3 || outbox.Count > 0); i++)
            {
                await Task.Delay(20);
            }
            Assert.Equal(3, upstream.Acknowledged.Count);
            Assert.All(upstream.Acknowledged, topic => Assert.StartsWith("telemetry/", topic, StringComparison.Ordinal));
            Assert.Equal(0, outbox.Count);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task On_MQTTnets_own_listener_an_MQTT_3_1_1_client_without_a_client_id_is_refused()
    {
        using var host = new HostBuilder().ConfigureServices(services => Compose(new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge), services)).Build();
        await host.StartAsync();
        try
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, _port);
            var stream = socket.GetStream();
            // CONNECT, MQTT 3.1.1 (level 4), clean session, keep alive 60 s, empty client id (written by hand: client
            // libraries make one up). Only the Kestrel transport's packet guard can give it an id.
            await stream.WriteAsync(new byte[] { 0x10, 12, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, 0 });
            var connack = new byte[4];
            await stream.ReadExactlyAsync(connack);

            // CONNACK, return code 0x02: identifier rejected (MQTT 3.1.1 §3.2.2.3).
            Assert.Equal(new byte[] { 0x20, 2, 0, 2 }, connack);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private IServiceCollection Compose(IUpstream? upstream, IServiceCollection? services = null)
    {
        services ??= new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<CompiledPolicy>(ShippedPolicy.Policy);
        services.AddSingleton<PseudonymizationKey>(ShippedPolicy.Key);
        if (upstream is not null)
        {
            services.AddSingleton(upstream);
        }
        var settings = new MqttGatewaySettings(
            new SiteBrokerOptions { Port = _port, Transport = "tcp" },
            new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "none" },
            new OutboxOptions(),
            _directory,
            "gateway-1",
            new SecurityOptions(),
            QuarantineOptions.Default);
        services.AddMqttGateway(settings, webHost: null);
        return services;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
