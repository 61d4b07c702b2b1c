using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using TelemetryGateway.EndToEnd.Tests.Support;
using Xunit.Abstractions;
using static TelemetryGateway.EndToEnd.Tests.Security.SecuredGateway;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// The findings of the security probe with real credentials (issue 17), replayed against a running gateway with a
/// hand-written MQTT 5 client on the plain listener (Kestrel): each would pass on a gateway without its fix.
/// </summary>
public sealed class ProbeTests(ProbeGateway site, ITestOutputHelper output) : IClassFixture<ProbeGateway>
{
    private const byte Success = 0x00;
    private const byte Granted = 0x01;
    private const byte TopicFilterInvalid = 0x8F;
    private const byte TopicNameInvalid = 0x90;
    private const byte TopicAliasInvalid = 0x94;
    private const byte QuotaExceeded = 0x97;
    private const byte ClientIdentifierNotValid = 0x85;
    private const byte BadUserNameOrPassword = 0x86;
    private const byte ServerBusy = 0x89;

    private static readonly string s_ownTopic = $"dt/anker_power/A17C0/{DeviceSerial}/firmware";

    private Task<(RawMqttClient Client, ConnAck? ConnAck)> DeviceAsync(string clientId, string user = "device-1", string password = DevicePassword,
        uint sessionExpiry = 0, bool cleanStart = true, IPAddress? from = null) =>
        RawMqttClient.ConnectAsync(site.PlainPort, clientId, user, password, sessionExpiry, localAddress: from, cleanStart: cleanStart);

    [Fact]
    public async Task Long_topics_with_distinct_topic_aliases_leave_the_working_set_bounded()
    {
        // The probe: 60 KB topics with a new alias each. 40,000 characters keep each decoded topic (80 KB) off the large
        // object heap, so what is garbage is collected at once and only what MQTTnet keeps shows in the working set.
        var longTopic = Encoding.UTF8.GetBytes($"dt/anker_power/A17C0/{DeviceSerial}/" + new string('x', 40_000));
        var payload = "{}"u8.ToArray();
        var (warm, warmAck) = await DeviceAsync($"{DeviceSerial}-alias-warm");
        await using (warm)
        {
            Assert.Equal(Success, warmAck?.ReasonCode);
            Assert.Equal(16, warmAck!.TopicAliasMaximum);
            for (var i = 0; i < 50; i++)
            {
                await warm.PublishAsync(longTopic, payload, topicAlias: 1);
            }
        }
        await Task.Delay(1000);
        var before = ProcessMemory.ResidentMiB(site.Gateway.ProcessId);

        // One connection, aliases 1, 2, 3, ... as the probe sent them: past the advertised maximum the gateway hangs up.
        var codes = new List<byte?>();
        var (probe, _) = await DeviceAsync($"{DeviceSerial}-alias-probe");
        await using (probe)
        {
            for (ushort alias = 1; alias <= 1200; alias++)
            {
                var code = await probe.PublishAsync(longTopic, payload, alias);
                codes.Add(code);
                if (code is null)
                {
                    break;
                }
            }
            Assert.Equal(TopicAliasInvalid, probe.DisconnectReason);
        }
        Assert.Equal(17, codes.Count);
        Assert.All(codes.Take(16), code => Assert.Equal(TopicNameInvalid, code));

        // The most the fix leaves an attacker: reconnect and use the allowed aliases, 1,200 long topics in all.
        var sent = 0;
        for (var connection = 0; sent < 1200 && connection < 100; connection++)
        {
            var (again, ack) = await DeviceAsync($"{DeviceSerial}-alias-{connection}");
            await using (again)
            {
                Assert.Equal(Success, ack?.ReasonCode);
                for (ushort alias = 1; alias <= 16 && sent < 1200; alias++, sent++)
                {
                    Assert.Equal(TopicNameInvalid, await again.PublishAsync(longTopic, payload, alias));
                }
            }
        }
        await Task.Delay(2000);
        var after = ProcessMemory.ResidentMiB(site.Gateway.ProcessId);

        output.WriteLine($"gateway working set: {before:F1} MiB before, {after:F1} MiB after 1,217 publishes with 40 KB topics");
        // Kept by MQTTnet, the aliases' topics alone would be 1,216 x 80 KB = 95 MiB.
        Assert.True(after - before < 40, $"working set grew from {before:F1} to {after:F1} MiB");
    }

    [Fact]
    public async Task Session_expiry_is_capped_and_the_session_is_deleted_after_it()
    {
        var serial = ProbeGateway.Serial(5);
        var (first, ack) = await DeviceAsync($"{serial}-persistent", "device-5", ProbeGateway.LoginPassword, sessionExpiry: uint.MaxValue, cleanStart: false);
        await using (first)
        {
            Assert.Equal(Success, ack?.ReasonCode);
            Assert.Equal(3u, ack!.SessionExpiryInterval);
            Assert.Equal(new byte[] { Granted }, await first.SubscribeAsync($"cmd/+/+/{serial}/#"));
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        var (second, again) = await DeviceAsync($"{serial}-persistent", "device-5", ProbeGateway.LoginPassword, sessionExpiry: uint.MaxValue, cleanStart: false);
        await using (second)
        {
            Assert.Equal(Success, again?.ReasonCode);
            Assert.False(again!.SessionPresent, "the session outlived the gateway's MaxSessionExpiry");
        }
    }

    [Fact]
    public async Task Persistent_sessions_beyond_the_limit_per_identity_are_refused_with_quota_exceeded()
    {
        var serial = ProbeGateway.Serial(6);
        for (var i = 0; i < 3; i++)
        {
            var (client, ack) = await DeviceAsync($"{serial}-s{i}", "device-6", ProbeGateway.LoginPassword, sessionExpiry: 3600, cleanStart: false);
            await using (client)
            {
                Assert.Equal(Success, ack?.ReasonCode);
            }
        }

        // The three sessions outlive their connections (that is what made the probe's 300 MB stay).
        var (fourth, refused) = await DeviceAsync($"{serial}-s3", "device-6", ProbeGateway.LoginPassword, sessionExpiry: 3600, cleanStart: false);
        await using (fourth)
        {
            Assert.Equal(QuotaExceeded, refused?.ReasonCode);
        }
    }

    [Fact]
    public async Task Subscribe_with_too_many_filters_and_subscriptions_beyond_the_limit_are_refused()
    {
        var serial = ProbeGateway.Serial(7);
        var (client, ack) = await DeviceAsync($"{serial}-subs", "device-7", ProbeGateway.LoginPassword);
        await using (client)
        {
            Assert.Equal(Success, ack?.ReasonCode);
            string Filter(int n) => $"cmd/+/+/{serial}/k{n}";

            var oversized = await client.SubscribeAsync([.. Enumerable.Range(100, 9).Select(Filter)]);
            Assert.Equal(Enumerable.Repeat(QuotaExceeded, 9), oversized!);

            var codes = new List<byte>();
            for (var packet = 0; packet < 3; packet++)
            {
                codes.AddRange((await client.SubscribeAsync([.. Enumerable.Range(packet * 8, 8).Select(Filter)]))!);
            }
            Assert.Equal(Enumerable.Repeat(Granted, 20).Concat(Enumerable.Repeat(QuotaExceeded, 4)), codes);
        }
    }

    [Fact]
    public async Task Filter_with_a_level_after_the_multi_level_wildcard_is_refused()
    {
        var (client, _) = await DeviceAsync($"{DeviceSerial}-filter");
        await using (client)
        {
            Assert.Equal(new byte[] { TopicFilterInvalid }, await client.SubscribeAsync($"cmd/+/+/{DeviceSerial}/#/x"));
            Assert.Equal(new byte[] { Granted }, await client.SubscribeAsync($"cmd/+/+/{DeviceSerial}/#"));
        }
    }

    [Fact]
    public async Task Publish_topic_with_a_nul_character_gets_topic_name_invalid()
    {
        var (client, _) = await DeviceAsync($"{DeviceSerial}-nul");
        await using (client)
        {
            Assert.Equal(TopicNameInvalid, await client.PublishAsync(s_ownTopic + "\0x", "{}"));
        }
    }

    [Fact]
    public async Task Publish_topic_with_invalid_utf8_gets_topic_name_invalid()
    {
        byte[] topic = [.. Encoding.UTF8.GetBytes(s_ownTopic + "/"), 0xC3, 0x28, 0xFF];
        var (client, _) = await DeviceAsync($"{DeviceSerial}-utf8");
        await using (client)
        {
            Assert.Equal(TopicNameInvalid, await client.PublishAsync(topic, "{}"u8.ToArray()));
        }
    }

    [Fact]
    public async Task Topic_alias_0_closes_the_connection()
    {
        var (client, _) = await DeviceAsync($"{DeviceSerial}-alias0");
        await using (client)
        {
            var withAlias = await client.PublishAsync(s_ownTopic, """{"sn":"x"}""", topicAlias: 1);
            Assert.True(withAlias is < 0x80, $"alias 1: {withAlias}");

            Assert.Null(await client.PublishAsync(s_ownTopic, """{"sn":"x"}""", topicAlias: 0));
            Assert.Equal(TopicAliasInvalid, client.DisconnectReason);
        }
        Assert.True(await site.OutputContainsAsync("Connection closed with DISCONNECT 0x94 TopicAliasInvalid: topic alias 0"), site.Output);
    }

    [Fact]
    public async Task Client_id_outside_the_identity_pattern_is_refused_so_a_device_id_cannot_be_squatted()
    {
        // The installer holds a password; the device's client id is its serial, which is printed on it.
        var (squatter, squat) = await RawMqttClient.ConnectAsync(site.PlainPort, DeviceSerial, "installer-1", InstallerPassword, sessionExpiry: 3600, cleanStart: false);
        await using (squatter)
        {
            Assert.Equal(ClientIdentifierNotValid, squat?.ReasonCode);
        }
        var (other, otherAck) = await DeviceAsync("not-my-serial");
        await using (other)
        {
            Assert.Equal(ClientIdentifierNotValid, otherAck?.ReasonCode);
        }

        var (device, ack) = await DeviceAsync(DeviceSerial);
        await using (device)
        {
            Assert.Equal(Success, ack?.ReasonCode);
        }
    }

    [Fact]
    public async Task First_logins_stay_under_one_second_while_unknown_users_hammer_from_another_address()
    {
        // A bounded attacker: 50 connections from 127.0.0.2 (the kernel routes all of 127/8 to loopback), each sending
        // CONNECT with an unknown user name again and again, at most every 100 ms, for at most 12 s.
        var attacker = IPAddress.Parse("127.0.0.2");
        var answers = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(12));
        var attackers = Enumerable.Range(0, 50).Select(task => Task.Run(async () =>
        {
            for (var i = 0; i < 300 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var (client, ack) = await RawMqttClient.ConnectAsync(site.PlainPort, $"probe-{task}-{i}", $"nobody-{task}-{i}", "guess", localAddress: attacker);
                    await client.DisposeAsync();
                    answers.AddOrUpdate(ack is null ? "closed" : $"0x{ack.ReasonCode:X2}", 1, (_, n) => n + 1);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
                {
                    answers.AddOrUpdate(e.GetType().Name, 1, (_, n) => n + 1);
                }
                await Task.Delay(100, CancellationToken.None);
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(2));
        var latencies = new List<double>();
        for (var device = 2; device <= 4; device++)
        {
            var watch = Stopwatch.StartNew();
            var (client, ack) = await DeviceAsync($"{ProbeGateway.Serial(device)}-login", $"device-{device}", ProbeGateway.LoginPassword);
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            await using (client)
            {
                Assert.Equal(Success, ack?.ReasonCode);
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(attackers);

        var summary = string.Join(", ", answers.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}: {a.Value}"));
        output.WriteLine($"first logins: {string.Join(", ", latencies.Select(l => $"{l:F0} ms"))}; attacker answers: {summary}");
        Assert.True(answers.GetValueOrDefault($"0x{BadUserNameOrPassword:X2}") > 0, summary);
        Assert.True(answers.GetValueOrDefault($"0x{ServerBusy:X2}") > 0, summary);
        // Under 1 s (the median, 0.3 s on a quiet machine; a gateway without the throttle took 10 s); on a 2-core machine
        // shared with other builds, none over 2 s.
        var measured = $"first logins took {string.Join(", ", latencies.Select(l => $"{l:F0} ms"))}; attacker answers: {summary}";
        Assert.True(latencies.Order().ElementAt(1) < 1000, measured);
        Assert.All(latencies, latency => Assert.True(latency < 2000, measured));
    }
}
