using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Aggregation;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Aggregation;

/// <summary>
/// At stop, open aggregate windows are released after the broker stopped (no device adds to them any more) and before
/// delivery stops, so the last aggregates reach the upstream (or the outbox) instead of being lost.
/// </summary>
public sealed class AggregateShutdownOrderTests : IDisposable
{
    private const string Policy = """
        {
          "id": "agg-stop", "version": "1",
          "streams": {
            "status": {
              "topic": "dt/anker_power/{pn}/{sn}/status", "categories": ["device", "usage"],
              "purposes": {
                "product-improvement-aggregate": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/{pn}/status", "captures": { "pn": "keep" },
                  "aggregate": {
                    "window": "P1D", "groupBy": ["pn"], "minDevices": 3,
                    "metrics": { "battery_soc": { "stats": ["count", "sum"], "clip": [0, 100], "resolution": 1 } }
                  }
                }
              }
            }
          }
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("tg-agg-stop-").FullName;
    private readonly int _port = FreePort();

    [Fact]
    public async Task The_releaser_is_registered_between_delivery_and_the_broker_so_it_stops_after_the_broker_and_before_delivery()
    {
        await using var services = Compose(new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge)).BuildServiceProvider();

        var hosted = services.GetServices<IHostedService>().Select(s => s.GetType().Name).ToList();

        var releaser = hosted.IndexOf(nameof(AggregateReleaser));
        Assert.True(hosted.IndexOf(nameof(DeliveryService)) < releaser && releaser < hosted.IndexOf(nameof(SiteBroker)), string.Join(", ", hosted));
    }

    [Fact]
    public async Task An_open_window_that_meets_k_reaches_the_upstream_when_the_gateway_stops()
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        using var host = new HostBuilder().ConfigureServices(services => Compose(upstream, services)).Build();
        await host.StartAsync();
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _port).WithClientId("fleet").WithProtocolVersion(MqttProtocolVersion.V500).Build());
        for (var d = 0; d < 4; d++)
        {
            var serial = $"SERIAL{d:D10}";
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"dt/anker_power/A17C0/{serial}/status")
                .WithPayload(Encoding.UTF8.GetBytes($$"""{"sn":"{{serial}}","battery_soc":{{10 * (d + 1)}}}"""))
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            Assert.True(result.IsSuccess);
        }
        await client.DisconnectAsync();
        client.Dispose();
        Assert.Empty(upstream.AcknowledgedMessages);

        // A day's window is open: only the stop releases it.
        await host.StopAsync();

        var message = Assert.Single(upstream.AcknowledgedMessages);
        Assert.Equal("telemetry/product-improvement/agg/A17C0/status", message.Topic);
        using var json = JsonDocument.Parse(message.Payload);
        Assert.Equal(4, json.RootElement.GetProperty("devices").GetInt64());
        Assert.Equal(100, json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
        Assert.Equal(0, host.Services.GetRequiredService<SqliteOutbox>().Count);
    }

    private IServiceCollection Compose(IUpstream upstream, IServiceCollection? services = null)
    {
        services ??= new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<CompiledPolicy>(PolicyCompiler.Compile(Encoding.UTF8.GetBytes(Policy)).Policy!);
        services.AddSingleton<PseudonymizationKey>(ShippedPolicy.Key);
        services.AddSingleton(upstream);
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
