using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Broker;

/// <summary>
/// Policy generations under load: a QoS 1 publisher against the running broker while the policy is swapped 20 times
/// between two versions. Nothing is lost, and every output is entirely of one version.
/// </summary>
public sealed class PolicyReloadUnderLoadTests : IDisposable
{
    private const int Messages = 420;
    private const int Swaps = 20;
    private static readonly string s_policyPath = Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-reload-").FullName;

    [Fact]
    public async Task Swapping_the_policy_20_times_under_QoS_1_load_loses_nothing_and_never_mixes_versions()
    {
        var versionOne = File.ReadAllBytes(s_policyPath);
        var versionTwo = VersionTwo(versionOne);
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge, window: 64);
        var port = FreePort();
        using var host = new HostBuilder().ConfigureServices(services => Compose(services, upstream, port)).Build();
        await host.StartAsync();
        var generations = host.Services.GetRequiredService<PolicyGenerations>();
        try
        {
            using var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("device-1").WithProtocolVersion(MqttProtocolVersion.V500).Build());
            var published = 0;
            var swapping = Task.Run(async () =>
            {
                for (var swap = 1; swap <= Swaps; swap++)
                {
                    while (Volatile.Read(ref published) < swap * Messages / (Swaps + 1))
                    {
                        await Task.Delay(1);
                    }
                    var reload = generations.Reload(swap % 2 == 1 ? versionTwo : versionOne);
                    Assert.True(reload.Succeeded, string.Join("\n", reload.Errors));
                }
            });
            for (var i = 0; i < Messages; i++)
            {
                var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic("dt/anker_power/A17C0/SERIALCANARY0001/firmware")
                    .WithPayload(Encoding.UTF8.GetBytes($$"""{"sn":"SERIALCANARY0001","pn":"P{{i}}","sw_version":"v{{i}}","hw_version":"h1"}"""))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build());
                Assert.True(result.IsSuccess, $"publish {i}: {result.ReasonCode}");
                Interlocked.Increment(ref published);
            }
            await swapping;
            await client.DisconnectAsync();

            var outbox = host.Services.GetRequiredService<SqliteOutbox>();
            for (var i = 0; i < 500 && (upstream.AcknowledgedMessages.Count < Messages * 3 || outbox.Count > 0); i++)
            {
                await Task.Delay(20);
            }
            Assert.Equal(Swaps + 1, generations.Current.Number);
            var outputs = upstream.AcknowledgedMessages.ToList();
            var byPurpose = outputs.GroupBy(o => o.Purpose).ToDictionary(g => g.Key, g => g.Select(Pn).ToHashSet());
            Assert.Equal(["after-sales-service", "product-improvement", "safety-recall"], byPurpose.Keys.Order());
            Assert.All(byPurpose.Values, seen => Assert.Equal(Messages, seen.Count));
            var versions = outputs.Select(o => o.Policy.Split('+')[0]).ToHashSet();
            Assert.Equal(["solix-default@1", "solix-default@2"], versions.Order());
            foreach (var output in outputs.Where(o => o.Purpose == "product-improvement"))
            {
                // Version 2 drops sw_version for product improvement; an output has it exactly when it is tagged version 1.
                var hasSoftwareVersion = JsonDocument.Parse(output.Payload).RootElement.TryGetProperty("sw_version", out _);
                Assert.Equal(output.Policy.StartsWith("solix-default@1+", StringComparison.Ordinal), hasSoftwareVersion);
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static string Pn(UpstreamMessage output) => JsonDocument.Parse(output.Payload).RootElement.GetProperty("pn").GetString()!;

    /// <summary>The shipped policy as version 2, in which product improvement no longer receives the firmware's software version.</summary>
    private static byte[] VersionTwo(byte[] versionOne)
    {
        var policy = JsonNode.Parse(versionOne, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;
        policy["version"] = "2";
        policy["streams"]!["firmware"]!["purposes"]!["product-improvement"]!["fields"]!["sw_version"] = "drop";
        return Encoding.UTF8.GetBytes(policy.ToJsonString());
    }

    private void Compose(IServiceCollection services, IUpstream upstream, int port)
    {
        services.AddLogging();
        services.AddSingleton(PolicyCompiler.CompileFile(s_policyPath));
        services.AddSingleton<PseudonymizationKey>(ShippedPolicy.Key);
        services.AddSingleton(upstream);
        services.AddMqttGateway(
            new MqttGatewaySettings(
                new SiteBrokerOptions { Port = port, Transport = "tcp" },
                new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "none" },
                new OutboxOptions(),
                _directory,
                "gateway-1",
                new SecurityOptions(),
                QuarantineOptions.Default),
            webHost: null);
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
