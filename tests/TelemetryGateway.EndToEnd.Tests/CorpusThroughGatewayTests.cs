using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>The whole corpus published through a running gateway to a real mosquitto upstream.</summary>
public sealed class CorpusThroughGatewayTests
{
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Upstream_receives_exactly_the_outputs_of_the_minimize_verb_for_the_corpus()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory,
            $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}",
            "--Gateway:Upstream:Envelope=none",
            $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        var expected = ExpectedOutputs(temp.KeyFile);

        var messages = Corpus.Load(Corpus.MessagesPath);
        for (var i = 0; i < messages.Count; i++)
        {
            var file = temp.Combine($"payload-{i}");
            await File.WriteAllBytesAsync(file, messages[i].Payload);
            // A real third-party client: Debian's mosquitto_pub, MQTT 3.1.1, QoS 1.
            await MosquittoPub.PublishFileAsync(gateway.Port, $"device-{i}", messages[i].Topic, file);
        }
        var received = await cloud.WaitForAsync(expected.Count, s_delivery);
        await Task.Delay(500);
        received = [.. cloud.Messages];

        var actual = received.Select(r => Describe(
            r.Topic["telemetry/".Length..], r.Properties["purpose"], r.Properties["legal-basis"], r.Properties["categories"],
            r.Properties["policy"], r.Properties["retention"], r.Payload)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual);
        foreach (var message in messages)
        {
            foreach (var canary in message.Canaries.Where(c => c.IsNever))
            {
                Assert.DoesNotContain(received, r => CanaryScanner.Contains(r.Payload, canary.Value) || CanaryScanner.Contains(Encoding.UTF8.GetBytes(r.Topic), canary.Value));
            }
        }
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", gateway.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("kestrel")]
    public async Task The_protobuf_envelope_carries_the_tags_the_payload_and_the_gateway_id(string transport)
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstream.Port}", $"--Gateway:Mqtt:Transport={transport}");
        await using var device = await Client.ConnectAsync(gateway.Port, "WK1DEGZD8PCF32ER");

        var result = await device.PublishAsync("dt/anker_power/A17C0/WK1DEGZD8PCF32ER/firmware", """{"sn":"WK1DEGZD8PCF32ER","sw_version":"v1.0.3","wifi":"x"}""");
        Assert.True(result.IsSuccess);

        var received = await cloud.WaitForAsync(3, s_delivery);
        Assert.Equal(3, received.Count);
        var recall = received.Single(r => r.Topic.StartsWith("telemetry/safety-recall/", StringComparison.Ordinal));
        Assert.Equal("telemetry/safety-recall/dt/anker_power/A17C0/WK1DEGZD8PCF32ER/firmware", recall.Topic);
        var envelope = Envelope.Parser.ParseFrom(recall.Payload);
        Assert.Equal("safety-recall", envelope.Purpose);
        Assert.Equal("legitimate-interest", envelope.LegalBasis);
        Assert.Equal(["device"], envelope.Categories);
        Assert.StartsWith("solix-default@1+sha256.", envelope.Policy, StringComparison.Ordinal);
        Assert.Equal("P10Y", envelope.Retention);
        Assert.Equal("gw-test", envelope.GatewayId);
        Assert.Equal("firmware", envelope.Stream);
        Assert.Equal("application/json", envelope.ContentType);
        Assert.True(envelope.ReceivedAt.ToDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal("""{"sn":"WK1DEGZD8PCF32ER","sw_version":"v1.0.3"}""", envelope.Payload.ToStringUtf8());
        Assert.Equal(envelope.Purpose, recall.Properties["purpose"]);
        Assert.Equal(envelope.Policy, recall.Properties["policy"]);
        Assert.Equal("device", recall.Properties["categories"]);
        Assert.InRange(recall.ExpirySeconds, 1u, (uint)TimeSpan.FromDays(3650).TotalSeconds);
        var improvement = Envelope.Parser.ParseFrom(received.Single(r => r.Topic.StartsWith("telemetry/product-improvement/", StringComparison.Ordinal)).Payload);
        Assert.DoesNotContain("WK1DEGZD8PCF32ER", improvement.Payload.ToStringUtf8(), StringComparison.Ordinal);
    }

    private static List<string> ExpectedOutputs(string keyFile)
    {
        var expected = new List<string>();
        foreach (var root in MinimizeVerb.Run(keyFile, Corpus.MessagesPath))
        {
            if (!root.TryGetProperty("purpose", out var purpose))
            {
                continue;
            }
            var topic = root.GetProperty("topic").GetString()!;
            expected.Add(Describe(
                $"{purpose.GetString()}/{topic}", purpose.GetString()!, root.GetProperty("legalBasis").GetString()!,
                string.Join(',', root.GetProperty("categories").EnumerateArray().Select(c => c.GetString())),
                root.GetProperty("policy").GetString()!, root.GetProperty("retention").GetString()!,
                root.GetProperty("payloadBase64").GetBytesFromBase64()));
        }
        Assert.NotEmpty(expected);
        return expected;
    }

    private static string Describe(string topic, string purpose, string legalBasis, string categories, string policy, string retention, byte[] payload) =>
        $"{topic} | {purpose} | {legalBasis} | {categories} | {policy} | {retention} | {Convert.ToBase64String(payload)}";
}
