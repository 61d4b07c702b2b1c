using System.Text;
using MQTTnet.Formatter;
using TelemetryGateway.EndToEnd.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;
using Xunit.Abstractions;

namespace TelemetryGateway.EndToEnd.Tests.Workers;

/// <summary>
/// Ingress mode <c>mqtt-shared</c> against a real mosquitto 2 (MQTT 5 shared subscriptions, persistent sessions): three
/// workers share the device stream; one is killed mid-run and restarted under the same client id; nothing is lost.
/// </summary>
public sealed class SharedSubscriptionWorkerTests(ITestOutputHelper output)
{
    private const int Workers = 3;
    private const int Messages = 600;
    private const int Purposes = 3;
    private const string ReadyLine = "Worker subscribed on";
    private static readonly TimeSpan s_delivery = TimeSpan.FromSeconds(90);
    // A loopback port nothing listens on (taken and released at once).
    private static readonly int s_unreachablePort = Loopback.FreePort();

    [Fact]
    public async Task Every_message_arrives_minimized_when_a_worker_is_killed_and_restarted_under_its_client_id()
    {
        using var temp = new TempDirectory();
        await using var site = await Mosquitto.StartAsync();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        var workers = new List<GatewayProcess>();
        try
        {
            for (var i = 0; i < Workers; i++)
            {
                workers.Add(await GatewayProcess.StartWorkerAsync(temp.Combine($"worker-{i}"), ReadyLine, WorkerSettings(i, site.Port, upstream.Port, temp.KeyFile)));
            }

            // A worker is alive and ready by its own receive loop (no site broker runs in this mode).
            using (var admin = workers[1].AdminClient())
            {
                var health = await admin.GetAsync("healthz");
                var body = await health.Content.ReadAsStringAsync();
                Assert.True(health.IsSuccessStatusCode, body);
                Assert.Contains("the mqtt-shared worker runs", body, StringComparison.Ordinal);
                var ready = await admin.GetAsync("readyz");
                Assert.True(ready.IsSuccessStatusCode, await ready.Content.ReadAsStringAsync());
            }

            await using (var device = await Client.ConnectAsync(site.Port, "A17C0-device", MqttProtocolVersion.V311))
            {
                for (var i = 0; i < Messages; i++)
                {
                    if (i == Messages / 3 / 2)
                    {
                        // Warm: the workers are delivering (half of what was published has arrived).
                        Assert.True(await Loopback.EventuallyAsync(() => cloud.Messages.Count >= i / 2 * Purposes, s_delivery), "nothing was delivered before the kill");
                    }
                    if (i == Messages / 3)
                    {
                        // SIGKILL while messages flow (the device has not paused): deliveries in processing are lost with the worker.
                        await workers[0].KillAsync();
                    }
                    if (i == 2 * Messages / 3)
                    {
                        await workers[0].StartAsync();
                    }
                    var result = await device.PublishAsync(Topic(i), Payload(i));
                    Assert.True(result.IsSuccess, $"publish {i} was not acknowledged by the site broker: {result.ReasonCode}");
                }
            }

            var expected = Messages * Purposes;
            await cloud.WaitForAsync(expected, s_delivery);
            // Duplicates arrive in the same breath as the last originals: a short grace period to count them.
            await Task.Delay(1000);
            var received = cloud.Messages.ToList();
            var logs = string.Join("\n---\n", workers.Select(w => w.Output));

            var seen = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
            foreach (var message in received)
            {
                var envelope = Envelope.Parser.ParseFrom(message.Payload);
                Assert.Equal(envelope.Purpose, message.Properties["purpose"]);
                Assert.StartsWith("solix-default@", message.Properties["policy"], StringComparison.Ordinal);
                var json = System.Text.Json.JsonDocument.Parse(envelope.Payload.ToStringUtf8()).RootElement;
                var sequence = int.Parse(json.GetProperty("sw_version").GetString()!.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                if (envelope.Purpose == "product-improvement")
                {
                    // Minimized: the serial number is pseudonymized for this purpose, in the payload and in the topic.
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
                var missing = Enumerable.Range(0, Messages).Where(i => !sequences.Contains(i)).ToList();
                Assert.True(missing.Count == 0, $"{purpose}: {missing.Count} sequence numbers missing (first {string.Join(",", missing.Take(10))}); worker logs:\n{logs}");
            }
            var duplicates = received.Count - expected;
            output.WriteLine($"{received.Count} outputs for {expected} expected: {duplicates} duplicates (at least once)");
            // The killed worker came back to its session, and every worker took its share (counted at a graceful stop).
            Assert.Contains("session present: True", workers[0].Output, StringComparison.Ordinal);
            Assert.All(workers, w => Assert.Contains("unreachable", w.Output, StringComparison.Ordinal));
            foreach (var worker in workers)
            {
                Assert.Equal(0, await worker.StopAsync());
            }
            var shares = workers.Select(w => LastAcknowledged(w.Output)).ToList();
            output.WriteLine($"acknowledged per worker at the end (worker 0: since its restart): {string.Join(", ", shares)}");
            Assert.All(shares, share => Assert.True(share > 0, $"a worker acknowledged nothing; worker logs:\n{logs}"));
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_message_the_killed_worker_held_unacknowledged_waits_in_its_session_and_arrives_when_it_returns()
    {
        const int Held = 5;
        using var temp = new TempDirectory();
        await using var site = await Mosquitto.StartAsync();
        await using var upstream = await Mosquitto.StartAsync();
        await using var relay = new HeldRelay(upstream.Port);
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        // Worker 0 reaches the cloud through the relay, worker 1 directly; worker 1 joins the group only after the kill.
        await using var held = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-0"), ReadyLine, WorkerSettings(0, site.Port, relay.Port, temp.KeyFile));
        Assert.True(await Loopback.EventuallyAsync(() => held.Output.Contains("Upstream 127.0.0.1", StringComparison.Ordinal), s_delivery), held.Output);

        // Held: worker 0's publishes get no PUBACK and reach nobody, so it cannot acknowledge what the broker handed it.
        relay.Hold();
        await using (var device = await Client.ConnectAsync(site.Port, "A17C0-device", MqttProtocolVersion.V311))
        {
            for (var i = 0; i < Held; i++)
            {
                Assert.True((await device.PublishAsync(Topic(i), Payload(i))).IsSuccess);
            }
        }
        // Killed inside the upstream's 10 s publish timeout (after it, the outputs would go to the outbox and be acknowledged).
        Assert.True(await Loopback.EventuallyAsync(() => relay.HeldBytes > 0, TimeSpan.FromSeconds(5)), "worker 0 published nothing: " + held.Output);
        await Task.Delay(500);
        await held.KillAsync();
        relay.Release();

        // Another member of the group: mosquitto keeps the killed member's in-flight messages in that member's session and
        // does not hand them to the group.
        await using var other = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-1"), ReadyLine, WorkerSettings(1, site.Port, upstream.Port, temp.KeyFile));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var beforeReturn = cloud.Messages.Count;
        output.WriteLine($"outputs that arrived through the other member while the killed one was away: {beforeReturn}");
        Assert.Equal(0, beforeReturn);

        // Worker 0 back under its client id: its session is present and the broker hands the held messages over again.
        await held.StartAsync();
        await cloud.WaitForAsync(Held * Purposes, s_delivery);
        await Task.Delay(500);
        var sequences = cloud.Messages.Select(m => Envelope.Parser.ParseFrom(m.Payload)).Where(e => e.Purpose == "safety-recall")
            .Select(e => System.Text.Json.JsonDocument.Parse(e.Payload.ToStringUtf8()).RootElement.GetProperty("sw_version").GetString()).ToHashSet();
        Assert.Equal(Held, sequences.Count);
        Assert.Contains("session present: True", held.Output, StringComparison.Ordinal);
        Assert.Equal(0, await held.StopAsync());
        Assert.Equal(0, await other.StopAsync());
        Assert.Equal(Held, LastAcknowledged(held.Output));
        Assert.Equal(0, LastAcknowledged(other.Output));
        output.WriteLine($"after worker 0 returned: {cloud.Messages.Count} outputs for {Held * Purposes} expected, all acknowledged by worker 0");
    }

    [Fact]
    public async Task A_reloaded_policy_subscribes_the_filter_of_a_new_stream_and_unsubscribes_a_removed_one()
    {
        using var temp = new TempDirectory();
        var policy = temp.Combine("policy.json");
        var withoutFirmware = WithoutStream(File.ReadAllText(GatewayProcess.Policy), "firmware");
        File.WriteAllText(policy, withoutFirmware);
        await using var site = await Mosquitto.StartAsync();
        await using var upstream = await Mosquitto.StartAsync();
        await using var cloud = await Client.ConnectAsync(upstream.Port, "cloud-ingest");
        await cloud.SubscribeAsync("telemetry/#");
        await using var worker = await GatewayProcess.StartWorkerAsync(temp.Combine("worker-0"), ReadyLine,
            [.. WorkerSettings(0, site.Port, upstream.Port, temp.KeyFile), $"--Gateway:Policy:Path={policy}", "--Gateway:Policy:WatchInterval=00:00:00"]);
        Assert.True(await Loopback.EventuallyAsync(() => worker.Output.Contains("Upstream 127.0.0.1", StringComparison.Ordinal), s_delivery), worker.Output);
        await using var device = await Client.ConnectAsync(site.Port, "A17C0-device", MqttProtocolVersion.V311);
        using var admin = worker.AdminClient();

        // No firmware stream: its topics are not subscribed, so the broker hands the worker none of them.
        Assert.True((await device.PublishAsync(Topic(0), Payload(0))).IsSuccess);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Empty(cloud.Messages);

        // Reloaded with the stream: its filter is subscribed at once, without a reconnect.
        File.Copy(GatewayProcess.Policy, policy, overwrite: true);
        var reload = await admin.PostAsync("admin/reload", null);
        Assert.True(reload.IsSuccessStatusCode, await reload.Content.ReadAsStringAsync());
        Assert.True(await Loopback.EventuallyAsync(() => worker.Output.Contains("Policy reloaded: 1 shared filters subscribed, 0 unsubscribed", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), worker.Output);
        Assert.True((await device.PublishAsync(Topic(1), Payload(1))).IsSuccess);
        await cloud.WaitForAsync(Purposes, s_delivery);

        // Reloaded without it again: unsubscribed, so the broker stops handing those messages over (none comes unmatched).
        File.WriteAllText(policy, withoutFirmware);
        reload = await admin.PostAsync("admin/reload", null);
        Assert.True(reload.IsSuccessStatusCode, await reload.Content.ReadAsStringAsync());
        Assert.True(await Loopback.EventuallyAsync(() => worker.Output.Contains("Policy reloaded: 0 shared filters subscribed, 1 unsubscribed", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), worker.Output);
        Assert.True((await device.PublishAsync(Topic(2), Payload(2))).IsSuccess);
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Equal(Purposes, cloud.Messages.Count);
        Assert.All(cloud.Messages, m => Assert.Contains("\"sw_version\":\"v1\"", Envelope.Parser.ParseFrom(m.Payload).Payload.ToStringUtf8(), StringComparison.Ordinal));
        Assert.Equal(0, await worker.StopAsync());
        Assert.Contains("1 acknowledged, 0 not stored, 0 unmatched", worker.Output, StringComparison.Ordinal);
        Assert.Contains("Policy reloaded", worker.Output, StringComparison.Ordinal);
        output.WriteLine("subscribed on the reload that added the stream, unsubscribed on the one that removed it");
    }

    /// <summary>The policy (JSON with comments) without one of its streams.</summary>
    private static string WithoutStream(string policy, string stream)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(policy, documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        Assert.True(root["streams"]!.AsObject().Remove(stream), $"no stream {stream} in the policy");
        return root.ToJsonString();
    }

    private static long LastAcknowledged(string log)
    {
        var match = System.Text.RegularExpressions.Regex.Matches(log, @"Worker stopped: (\d+) acknowledged").LastOrDefault();
        return match is null ? -1 : long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string[] WorkerSettings(int worker, int sitePort, int upstreamPort, string keyFile) =>
    [
        "--Gateway:Ingress:Mode=mqtt-shared",
        // A node that is down first: every worker fails over to the next URL (and the restarted one again).
        $"--Gateway:Ingress:Url=mqtt://127.0.0.1:{s_unreachablePort},mqtt://127.0.0.1:{sitePort}",
        $"--Gateway:Ingress:ClientId=worker-{worker}",
        "--Gateway:Ingress:Prefetch=16",
        $"--Gateway:GatewayId=worker-{worker}",
        $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{upstreamPort}",
        $"--Gateway:Upstream:ClientId=worker-{worker}-upstream",
        $"--Gateway:Pseudonymization:KeyFile={keyFile}",
    ];

    private static string Topic(int sequence) => $"dt/anker_power/A17C0/SERIAL000000000{sequence % 3}/firmware";

    private static byte[] Payload(int sequence) =>
        Encoding.UTF8.GetBytes($$"""{"sn":"SERIAL000000000{{sequence % 3}}","sw_version":"v{{sequence}}"}""");
}
