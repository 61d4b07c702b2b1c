using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>
/// Anonymous aggregates (issue 18) through the real path: devices publish to the gateway's MQTT listener, the gateway
/// folds them into 5-second windows and delivers what meets k to a real mosquitto as the cloud, tagged.
/// </summary>
public sealed class AggregatesThroughGatewayTests
{
    private const string Window = "PT5S";
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static readonly string[] s_afterSales = ["after-sales-service"];

    private const string PolicyJson = """
        {
          "id": "agg-e2e", "version": "1",
          "streams": {
            "status": {
              "topic": "dt/anker_power/{pn}/{sn}/status", "format": "json", "device": "sn", "categories": ["device", "usage"],
              "purposes": {
                "product-improvement-aggregate": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/{pn}/status", "captures": { "pn": "keep" },
                  "aggregate": {
                    "window": "PT5S", "groupBy": ["pn"], "minDevices": 10,
                    "metrics": {
                      "battery_soc": { "stats": ["count", "sum", "mean", "min", "max"], "clip": [0, 100], "resolution": 1 },
                      "error_code": { "stats": ["histogram"], "values": [0, 1, 2, 3] }
                    }
                  }
                }
              }
            }
          }
        }
        """;

    [Fact]
    public async Task Two_hundred_devices_give_one_exact_tagged_aggregate_per_group_that_meets_k()
    {
        using var temp = new TempDirectory();
        var policy = temp.Combine("aggregates.json");
        await File.WriteAllTextAsync(policy, PolicyJson);
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}", "--Gateway:Upstream:Envelope=none",
            $"--Gateway:Policy:Path={policy}", $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        await Loopback.WaitForListenerAsync(gateway.AdminPort, s_wait, () => gateway.Output);
        using (var admin = gateway.AdminClient())
        {
            // Device 0 objects to product improvement, device 1 restricts its processing to after-sales service.
            using var objected = await admin.PutAsJsonAsync($"/v1/devices/{Serial(0)}/objections/product-improvement", new { noticeVersion = "2025-09-26" });
            using var restricted = await admin.PutAsJsonAsync($"/v1/devices/{Serial(1)}/restriction", new { purposes = s_afterSales, noticeVersion = "2025-09-26" });
            Assert.Equal(HttpStatusCode.OK, objected.StatusCode);
            Assert.Equal(HttpStatusCode.OK, restricted.StatusCode);
        }

        // Start right after a window boundary, so that the whole fleet reports within one window.
        await UntilWindowStartAsync();
        var started = DateTimeOffset.UtcNow;
        var expected = new List<int>();
        var histogram = new int[5];
        var fleet = Enumerable.Range(0, 10).Select(async client =>
        {
            await using var connection = await Client.ConnectAsync(gateway.Port, $"fleet-{client}");
            for (var d = client * 20; d < (client + 1) * 20; d++)
            {
                var result = await connection.PublishAsync(Topic("A17C0", d), Status(d, Soc(d), d % 5));
                Assert.True(result.IsSuccess);
            }
        });
        // Device 2 reports a thousand times (QoS 0, then a last one acknowledged): it counts once, with its last value.
        var chatty = Task.Run(async () =>
        {
            await using var connection = await Client.ConnectAsync(gateway.Port, "chatty");
            for (var i = 0; i < 999; i++)
            {
                await connection.PublishAsync(Topic("A17C0", 2), Encoding.UTF8.GetBytes(Status(2, 100 - (i % 100), 4)), MqttQualityOfServiceLevel.AtMostOnce);
            }
            Assert.True((await connection.PublishAsync(Topic("A17C0", 2), Status(2, Soc(2), 2 % 5))).IsSuccess);
        });
        // A second model with five devices: under k, never released.
        var few = Task.Run(async () =>
        {
            await using var connection = await Client.ConnectAsync(gateway.Port, "few");
            for (var d = 1000; d < 1005; d++)
            {
                Assert.True((await connection.PublishAsync(Topic("A1780", d), Status(d, 50, 0))).IsSuccess);
            }
        });
        await Task.WhenAll([.. fleet, chatty, few]);
        Assert.True(DateTimeOffset.UtcNow - started < s_window - TimeSpan.FromSeconds(1), "the fleet must report within one window for this test");
        for (var d = 2; d < 200; d++)
        {
            expected.Add(Soc(d));
            histogram[d % 5]++;
        }

        var received = await cloud.WaitForAsync(1, s_wait);

        var aggregate = Assert.Single(received);
        Assert.Equal("telemetry/product-improvement/agg/A17C0/status", aggregate.Topic);
        Assert.Equal("true", aggregate.Properties["anonymous"]);
        Assert.Equal("10", aggregate.Properties["k"]);
        Assert.Equal("none", aggregate.Properties["epsilon"]);
        Assert.EndsWith($"/{Window}", aggregate.Properties["window"], StringComparison.Ordinal);
        Assert.Equal("", aggregate.Properties["categories"]);
        Assert.Equal("product-improvement", aggregate.Properties["purpose"]);
        Assert.Equal("legitimate-interest", aggregate.Properties["legal-basis"]);
        using var json = JsonDocument.Parse(aggregate.Payload);
        var root = json.RootElement;
        Assert.Equal(198, root.GetProperty("devices").GetInt64());
        var soc = root.GetProperty("metrics").GetProperty("battery_soc");
        Assert.Equal(198, soc.GetProperty("count").GetInt64());
        Assert.Equal(expected.Sum(), soc.GetProperty("sum").GetDouble());
        Assert.Equal(expected.Average(), soc.GetProperty("mean").GetDouble(), 9);
        Assert.Equal(expected.Min(), soc.GetProperty("min").GetDouble());
        Assert.Equal(expected.Max(), soc.GetProperty("max").GetDouble());
        var bins = root.GetProperty("metrics").GetProperty("error_code").GetProperty("histogram");
        for (var code = 0; code < 4; code++)
        {
            Assert.Equal(histogram[code], bins.GetProperty(code.ToString(CultureInfo.InvariantCulture)).GetInt64());
        }
        Assert.Equal(histogram[4], bins.GetProperty("other").GetInt64());
        var text = Encoding.UTF8.GetString(aggregate.Payload) + aggregate.Topic;
        Assert.DoesNotContain("SERIAL", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SERIAL", gateway.Output, StringComparison.Ordinal);

        // At shutdown an open window is released when it meets k: twelve devices report, then the gateway stops.
        await UntilWindowStartAsync();
        await using (var late = await Client.ConnectAsync(gateway.Port, "late"))
        {
            for (var d = 500; d < 512; d++)
            {
                Assert.True((await late.PublishAsync(Topic("A17C0", d), Status(d, 10, 0))).IsSuccess);
            }
        }
        Assert.Equal(0, await gateway.StopAsync());
        var afterStop = await cloud.WaitForAsync(2, s_wait);
        Assert.Equal(2, afterStop.Count);
        using var flushed = JsonDocument.Parse(afterStop[1].Payload);
        Assert.Equal(12, flushed.RootElement.GetProperty("devices").GetInt64());
        Assert.Equal(120, flushed.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
        Assert.Contains("Aggregates at stop: 1 groups of open windows released", gateway.Output, StringComparison.Ordinal);
    }

    private static int Soc(int device) => (device * 37) % 101;

    private static string Serial(int device) => string.Create(CultureInfo.InvariantCulture, $"SERIAL{device:D10}");

    private static string Topic(string pn, int device) => $"dt/anker_power/{pn}/{Serial(device)}/status";

    private static string Status(int device, int soc, int errorCode) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"sn":"{{Serial(device)}}","battery_soc":{{soc}},"error_code":{{errorCode}},"solar_power_w":120}""");

    private static async Task UntilWindowStartAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var into = TimeSpan.FromTicks(now.UtcTicks % s_window.Ticks);
        await Task.Delay(s_window - into + TimeSpan.FromMilliseconds(100));
    }
}
