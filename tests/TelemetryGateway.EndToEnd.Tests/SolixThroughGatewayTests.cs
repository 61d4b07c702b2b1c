using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>SOLIX binary messages published by a real client through a running gateway to a real mosquitto upstream.</summary>
public sealed class SolixThroughGatewayTests
{
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Upstream_receives_the_minimize_verb_outputs_of_each_solix_message_type_and_no_serial_outside_service()
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
        // One message of each message type of each device: every path of the rewriter, in a few seconds.
        var messages = Corpus.Load(Path.Combine(AppContext.BaseDirectory, "testdata", "corpus", "solix.ndjson"))
            .GroupBy(m => (m.Topic, Type: m.Id[^4..])).Select(g => g.First()).ToList();
        var batch = temp.Combine("solix-batch.ndjson");
        await File.WriteAllLinesAsync(batch, messages.Select(m => JsonSerializer.Serialize(new { topic = m.Topic, payloadBase64 = Convert.ToBase64String(m.Payload) })));
        var expected = ExpectedOutputs(temp.KeyFile, batch);

        for (var i = 0; i < messages.Count; i++)
        {
            var file = temp.Combine($"solix-{i}");
            await File.WriteAllBytesAsync(file, messages[i].Payload);
            await MosquittoPub.PublishFileAsync(gateway.Port, $"solix-device-{i}", messages[i].Topic, file);
        }
        await cloud.WaitForAsync(expected.Count, s_delivery);
        await Task.Delay(500);
        var received = cloud.Messages.ToList();

        Assert.Equal(2 * messages.Count, expected.Count);
        Assert.Equal(expected.Order(StringComparer.Ordinal), received.Select(r => $"{r.Topic["telemetry/".Length..]} | {Convert.ToBase64String(r.Payload)}").Order(StringComparer.Ordinal));
        foreach (var canary in messages.SelectMany(m => m.Canaries).DistinctBy(c => c.Value))
        {
            var outside = received.Where(r => canary.IsNever || !canary.OnlyPurposes.Contains(r.Properties["purpose"]));
            Assert.DoesNotContain(outside, r => CanaryScanner.Contains(r.Payload, canary.Value) || CanaryScanner.Contains(Encoding.UTF8.GetBytes(r.Topic), canary.Value));
        }
        // Nothing of the messages in the gateway's own log either.
        Assert.All(messages.SelectMany(m => m.Canaries), c => Assert.DoesNotContain(c.Value, gateway.Output, StringComparison.OrdinalIgnoreCase));
    }

    private static List<string> ExpectedOutputs(string keyFile, string batch)
    {
        var expected = new List<string>();
        foreach (var line in MinimizeVerb.Run(keyFile, batch))
        {
            Assert.True(line.TryGetProperty("purpose", out var purpose), "a SOLIX corpus message was not minimized");
            expected.Add($"{purpose.GetString()}/{line.GetProperty("topic").GetString()} | {line.GetProperty("payloadBase64").GetString()}");
        }
        return expected;
    }
}
