using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Broker;

/// <summary>
/// Shared subscriptions ($share/group/filter, MQTT 5 §4.8.2) on the site broker composed in DI, with real MQTTnet
/// clients on loopback. Every wait is bounded.
/// </summary>
public sealed class SharedSubscriptionTests : IAsyncLifetime
{
    private const string Filter = "site/shared/#";
    private const string Shared = "$share/workers/" + Filter;
    private const string DevicePassword = "device-password-1";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly string _directory = Directory.CreateTempSubdirectory("tg-shared-").FullName;
    private readonly int _port = FreePort();
    private readonly List<TestClient> _clients = [];
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        var security = new SecurityOptions();
        CredentialStore.AddOrReplace(security.CredentialsPath(_directory),
            new CredentialEntry("dev1", IdentityRole.Device, "SERIALSHARE01", PasswordHash.Create(DevicePassword, PasswordHash.MinimumIterations)));
        _host = new HostBuilder().ConfigureServices(services => Compose(services, security)).Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Two_members_get_each_message_once_in_total_a_plain_subscriber_gets_all_and_retained_messages_stay_out()
    {
        var publisher = await ConnectAsync("shared-publisher");
        await publisher.PublishAsync("site/shared/retained", "kept", retain: true);
        var first = await ConnectAsync("member-1");
        var second = await ConnectAsync("member-2");
        var plain = await ConnectAsync("plain-subscriber");

        Assert.True(first.Connected.SharedSubscriptionAvailable);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await first.SubscribeAsync(Shared));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await second.SubscribeAsync(Shared));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await plain.SubscribeAsync(Filter));
        // The retained message reaches the plain subscription only (§4.8.2).
        await plain.WaitForAsync(1);

        for (var i = 0; i < 20; i++)
        {
            await publisher.PublishAsync("site/shared/m", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        await plain.WaitForAsync(21);
        await Eventually(() => first.Payloads.Count + second.Payloads.Count >= 20);
        await Task.Delay(300); // Nothing more may come.

        Assert.Equal(21, plain.Payloads.Count);
        var shared = first.Payloads.Concat(second.Payloads).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), shared.Order());
        Assert.NotEmpty(first.Payloads);
        Assert.NotEmpty(second.Payloads);
        Assert.DoesNotContain("kept", shared);
    }

    [Fact]
    public async Task Unsubscribing_or_disconnecting_hands_the_share_to_the_other_member()
    {
        var publisher = await ConnectAsync("handover-publisher");
        var first = await ConnectAsync("handover-1");
        var second = await ConnectAsync("handover-2");
        await first.SubscribeAsync(Shared);
        await second.SubscribeAsync(Shared);

        Assert.Equal(MqttClientUnsubscribeResultCode.Success, await second.UnsubscribeAsync(Shared));
        Assert.Equal(MqttClientUnsubscribeResultCode.NoSubscriptionExisted, await second.UnsubscribeAsync(Shared));
        await PublishAsync(publisher, "a", 6);
        await first.WaitForAsync(6);

        await second.SubscribeAsync(Shared);
        first.Dispose(); // Connection lost without DISCONNECT; its clean session ends with it.
        await SessionGoneAsync("handover-1");
        await PublishAsync(publisher, "b", 6);
        await second.WaitForAsync(6);
        await Task.Delay(300);

        Assert.Equal(6, first.Payloads.Count);
        Assert.Equal(["b0", "b1", "b2", "b3", "b4", "b5"], second.Payloads);
    }

    [Fact]
    public async Task A_member_away_with_a_persistent_session_gets_messages_queued_only_while_no_member_is_connected()
    {
        var publisher = await ConnectAsync("away-publisher");
        var away = await ConnectAsync("away-member", persistent: true);
        var present = await ConnectAsync("present-member");
        await away.SubscribeAsync(Shared);
        await present.SubscribeAsync(Shared);
        await away.Client.DisconnectAsync();

        await PublishAsync(publisher, "a", 4);
        await present.WaitForAsync(4);
        await present.Client.DisconnectAsync(); // Its clean session ends: the away member is the only one left.
        await SessionGoneAsync("present-member");
        await PublishAsync(publisher, "b", 3);

        var back = await ConnectAsync("away-member", persistent: true);
        Assert.True(back.Connected.IsSessionPresent);
        await back.WaitForAsync(3);
        await Task.Delay(300);
        Assert.Equal(["b0", "b1", "b2"], back.Payloads);
        Assert.Equal(["a0", "a1", "a2", "a3"], present.Payloads);
    }

    [Fact]
    public async Task A_session_with_a_plain_and_a_shared_subscription_gets_each_message_once_and_its_share_after_the_plain_one_goes()
    {
        var publisher = await ConnectAsync("both-publisher");
        var both = await ConnectAsync("both-member");
        var other = await ConnectAsync("both-other");
        await both.SubscribeAsync(Filter);
        await both.SubscribeAsync(Shared);
        await other.SubscribeAsync(Shared);

        await PublishAsync(publisher, "a", 10);
        await both.WaitForAsync(10);
        await Eventually(() => other.Payloads.Count >= 5);
        await Task.Delay(300);
        Assert.Equal(10, both.Payloads.Count);
        Assert.Equal(10, both.Payloads.Distinct().Count());
        // Dealt in turn: the other member had every second message.
        Assert.Equal(5, other.Payloads.Count);

        // The plain subscription goes, the shared one stays (MQTTnet's one subscription of the filter too).
        Assert.Equal(MqttClientUnsubscribeResultCode.Success, await both.UnsubscribeAsync(Filter));
        await PublishAsync(publisher, "b", 10);
        await Eventually(() => both.Payloads.Count + other.Payloads.Count >= 25);
        await Task.Delay(300);
        Assert.Equal(15, both.Payloads.Count);
        Assert.Equal(10, other.Payloads.Count);
    }

    [Fact]
    public async Task Invalid_share_names_are_refused_0x8F_memberships_are_bounded_0x97_and_the_acl_sees_the_real_filter()
    {
        var anonymous = await ConnectAsync("share-names");
        Assert.Equal(MqttClientSubscribeResultCode.TopicFilterInvalid, await anonymous.SubscribeAsync("$share//site/x"));
        Assert.Equal(MqttClientSubscribeResultCode.TopicFilterInvalid, await anonymous.SubscribeAsync("$share/a+b/site/x"));
        Assert.Equal(MqttClientSubscribeResultCode.TopicFilterInvalid, await anonymous.SubscribeAsync("$share/group"));
        Assert.Equal(MqttClientSubscribeResultCode.TopicFilterInvalid, await anonymous.SubscribeAsync("$share/group/"));
        Assert.Equal(MqttClientUnsubscribeResultCode.TopicFilterInvalid, await anonymous.UnsubscribeAsync("$share//site/x"));

        // One filter shared in many groups is one subscription for MQTTnet and the ACL: the memberships have their own bound.
        for (var i = 0; i < new ConnectionLimitOptions().MaxSubscriptionsPerClient; i++)
        {
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await anonymous.SubscribeAsync($"$share/q{i}/site/quota"));
        }
        Assert.Equal(MqttClientSubscribeResultCode.QuotaExceeded, await anonymous.SubscribeAsync("$share/one-more/site/quota"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await anonymous.SubscribeAsync("$share/q0/site/quota"));

        var device = await ConnectAsync("SERIALSHARE01-a", user: "dev1");
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await device.SubscribeAsync("$share/g/dt/#"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await device.SubscribeAsync("$share/g/cmd/+/+/SERIALSHARE01/#"));
    }

    [Fact]
    public async Task No_local_on_a_shared_subscription_is_a_protocol_error()
    {
        var client = await ConnectAsync("no-local");
        var disconnected = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Client.DisconnectedAsync += args =>
        {
            disconnected.TrySetResult(args.Reason);
            return Task.CompletedTask;
        };

        var subscribing = client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(Shared).WithNoLocal(true)).Build());

        Assert.Equal(MqttClientDisconnectReason.ProtocolError, await disconnected.Task.WaitAsync(s_wait));
        await Assert.ThrowsAnyAsync<Exception>(() => subscribing);
    }

    private static async Task PublishAsync(TestClient publisher, string prefix, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await publisher.PublishAsync("site/shared/m", prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Waits (at most 10 s) until the broker no longer has a session of <paramref name="clientId"/>.</summary>
    private async Task SessionGoneAsync(string clientId)
    {
        var server = _host.Services.GetRequiredService<SiteBroker>().Server;
        for (var i = 0; i < 500 && (await server.GetSessionsAsync()).Any(session => session.Id == clientId); i++)
        {
            await Task.Delay(20);
        }
    }

    private static Task Eventually(Func<bool> condition) => TestClient.Eventually(condition);

    private async Task<TestClient> ConnectAsync(string clientId, string? user = null, bool persistent = false)
    {
        var client = await TestClient.ConnectAsync(_port, clientId, user, user is null ? null : DevicePassword, persistent);
        _clients.Add(client);
        return client;
    }

    private void Compose(IServiceCollection services, SecurityOptions security)
    {
        services.AddLogging();
        services.AddSingleton<CompiledPolicy>(ShippedPolicy.Policy);
        services.AddSingleton<PseudonymizationKey>(ShippedPolicy.Key);
        services.AddSingleton<IUpstream>(new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge));
        var settings = new MqttGatewaySettings(
            new SiteBrokerOptions { Port = _port, Transport = "tcp" },
            new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "none" },
            new OutboxOptions(),
            _directory,
            "gateway-1",
            security,
            QuarantineOptions.Default);
        services.AddMqttGateway(settings, webHost: null);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>An MQTT 5 client (MQTTnet) that records the payloads it receives.</summary>
    private sealed class TestClient : IDisposable
    {
        private readonly ConcurrentQueue<string> _payloads = new();

        private TestClient(IMqttClient client, MqttClientConnectResult connected)
        {
            Client = client;
            Connected = connected;
            client.ApplicationMessageReceivedAsync += args =>
            {
                _payloads.Enqueue(Encoding.UTF8.GetString(args.ApplicationMessage.Payload));
                return Task.CompletedTask;
            };
        }

        public IMqttClient Client { get; }
        public MqttClientConnectResult Connected { get; }
        public IReadOnlyList<string> Payloads => [.. _payloads];

        public static async Task<TestClient> ConnectAsync(int port, string clientId, string? user, string? password, bool persistent)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId)
                .WithProtocolVersion(MqttProtocolVersion.V500).WithTimeout(s_wait)
                .WithCleanStart(!persistent).WithSessionExpiryInterval(persistent ? 3600u : 0u);
            if (user is not null)
            {
                options.WithCredentials(user, password);
            }
            var connected = await client.ConnectAsync(options.Build());
            return new TestClient(client, connected);
        }

        public async Task<MqttClientSubscribeResultCode> SubscribeAsync(string filter)
        {
            var result = await Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
            return Assert.Single(result.Items).ResultCode;
        }

        public async Task<MqttClientUnsubscribeResultCode> UnsubscribeAsync(string filter)
        {
            var result = await Client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(filter).Build());
            return Assert.Single(result.Items).ResultCode;
        }

        public Task<MqttClientPublishResult> PublishAsync(string topic, string payload, bool retain = false) =>
            Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build());

        public Task WaitForAsync(int count) => Eventually(() => _payloads.Count >= count);

        /// <summary>Polls <paramref name="condition"/> every 20 ms for at most 10 s; fails the test when it never holds.</summary>
        public static async Task Eventually(Func<bool> condition)
        {
            var deadline = DateTime.UtcNow + s_wait;
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
                await Task.Delay(20);
            }
        }

        public void Dispose() => Client.Dispose();
    }
}
