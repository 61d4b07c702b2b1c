using System.Text.Json;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.EndToEnd.Tests;

/// <summary>
/// Batching for the cloud (<c>Gateway:Upstream:Batch</c>) behind a real mosquitto, reached through a relay the test can
/// hold: a device's PUBACK waits for the PUBACK of the batch its outputs went in, and outputs in batches lost with the
/// cloud connection still arrive (from the outbox), decoded element by element with their own tags and topics.
/// </summary>
public sealed class BatchDeliveryTests
{
    private const int Devices = 5;
    private const string BatchContentType = "application/x-protobuf; proto=telemetry.v1.EnvelopeBatch";
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Device_PUBACKs_wait_for_their_batch_and_nothing_is_lost_across_a_cloud_disconnect_mid_batch()
    {
        using var temp = new TempDirectory();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var relay = new HeldRelay(upstream.Port);
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory,
            $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{relay.Port}",
            $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}",
            "--Gateway:Upstream:Batch:Enabled=true",
            // Long enough that the devices' messages, published together, share their batches.
            "--Gateway:Upstream:Batch:Linger=00:00:00.300",
            "--Gateway:Upstream:ReconnectMaxDelay=00:00:00.500");
        var devices = new List<Client>();
        try
        {
            for (var d = 0; d < Devices; d++)
            {
                devices.Add(await Client.ConnectAsync(gateway.Port, $"A17C0-device-{d}", MqttProtocolVersion.V311));
            }
            // Connected upstream once a first output arrived.
            Assert.True((await devices[0].PublishAsync(Topic(0), Firmware(0, "warm-up"))).IsSuccess);
            await cloud.WaitForAsync(1, s_bound);

            // Held: the batches reach neither the cloud nor their acknowledgement, so no device gets its PUBACK.
            relay.Hold();
            var held = devices.Select((device, d) => device.PublishAsync(Topic(d), Firmware(d, "held"))).ToList();
            var heldSent = await EventuallyAsync(() => relay.HeldBytes > 0, s_bound);
            await Task.Delay(500);
            Assert.True(heldSent, $"nothing was sent upstream; gateway log:\n{gateway.Output}");
            Assert.DoesNotContain(held, p => p.IsCompleted);
            relay.Release();
            Assert.All(await Task.WhenAll(held).WaitAsync(s_bound), r => Assert.True(r.IsSuccess, r.ReasonCode.ToString()));

            // Held again, then the connection is lost with the batches in it: the devices get their PUBACKs once the
            // outputs are stored, and the outputs arrive after the reconnect.
            relay.Hold();
            var lost = devices.Select((device, d) => device.PublishAsync(Topic(d), Firmware(d, "lost"))).ToList();
            Assert.True(await EventuallyAsync(() => relay.HeldBytes > 0, s_bound), $"nothing was sent upstream; gateway log:\n{gateway.Output}");
            await Task.Delay(500);
            relay.DropConnections();
            relay.Release();
            Assert.All(await Task.WhenAll(lost).WaitAsync(s_bound), r => Assert.True(r.IsSuccess, r.ReasonCode.ToString()));

            // Three purposes per firmware message: every output of both rounds arrives, each element with its own tags.
            var elements = new List<(string Topic, Envelope Envelope)>();
            var missing = new List<string>();
            Assert.True(await EventuallyAsync(() => Missing(Collect(cloud, elements), missing) == 0, s_bound),
                $"{elements.Count} elements arrived, missing: {string.Join("; ", missing)}; gateway log:\n{gateway.Output}");
            Assert.All(elements, e => Assert.StartsWith($"telemetry/{e.Envelope.Purpose}/", e.Envelope.Topic, StringComparison.Ordinal));
            Assert.All(elements, e => Assert.Equal($"telemetry/{e.Envelope.Purpose}/batch", e.Topic));
            // Batched indeed: fewer publishes than outputs.
            var batches = cloud.Messages.Count(m => m.ContentType == BatchContentType);
            Assert.True(batches < elements.Count, $"{batches} batches for {elements.Count} outputs");
        }
        finally
        {
            foreach (var device in devices)
            {
                await device.DisposeAsync();
            }
        }
    }

    /// <summary>The outputs of both rounds not yet among <paramref name="elements"/> (three purposes per firmware message).</summary>
    private static int Missing(List<(string Topic, Envelope Envelope)> elements, List<string> missing)
    {
        missing.Clear();
        foreach (var round in new[] { "held", "lost" })
        {
            for (var d = 0; d < Devices; d++)
            {
                var purposes = elements.Where(e => Version(e.Envelope) == $"{round}-{d}").Select(e => e.Envelope.Purpose).ToHashSet();
                if (purposes.Count != 3)
                {
                    missing.Add($"{round}, device {d}: outputs for {string.Join(",", purposes)} only");
                }
            }
        }
        return missing.Count;
    }

    /// <summary>Decodes every batch received so far into <paramref name="into"/>, each element with its batch's topic.</summary>
    private static List<(string Topic, Envelope Envelope)> Collect(Client cloud, List<(string Topic, Envelope Envelope)> into)
    {
        into.Clear();
        foreach (var message in cloud.Messages.Where(m => m.ContentType == BatchContentType).ToList())
        {
            var batch = EnvelopeBatch.Parser.ParseFrom(message.Payload);
            Assert.Equal(batch.Envelopes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), message.Properties["batch"]);
            Assert.All(batch.Envelopes, e => Assert.Equal(message.Properties["purpose"], e.Purpose));
            into.AddRange(batch.Envelopes.Select(e => (message.Topic, e)));
        }
        return into;
    }

    private static string? Version(Envelope envelope) =>
        JsonDocument.Parse(envelope.Payload.ToStringUtf8()).RootElement.TryGetProperty("sw_version", out var version) ? version.GetString() : null;

    private static string Topic(int device) => $"dt/anker_power/A17C0/SERIAL000000000{device}/firmware";

    private static byte[] Firmware(int device, string round) =>
        System.Text.Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL000000000{{device}}","sw_version":"{{round}}-{{device}}"}""");

    private static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }
}
