using System.Collections;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Server;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Mqtt.Security;

namespace TelemetryGateway.Mqtt.Tests.Broker;

/// <summary>The dealing of <see cref="SharedSubscriptions"/> on MQTTnet's hook arguments, without a server: who gets a message, and what it costs.</summary>
public sealed class SharedSubscriptionDealingTests
{
    private readonly SharedSubscriptions _shares = new(new ConnectionLimitOptions(), (_, _) => Task.CompletedTask, NullLogger.Instance);

    public SharedSubscriptionDealingTests()
    {
        Subscribe("member-a", "$share/g/site/#");
        Subscribe("member-b", "$share/g/site/#");
        Subscribe("plain-c", "site/#");
    }

    /// <summary>A SUBSCRIBE as MQTTnet handles it: the inbound hook, then (the subscription stored) the subscribed event.</summary>
    private void Subscribe(string clientId, string filter)
    {
        var topicFilter = new MqttTopicFilter { Topic = filter };
        var packet = new MqttSubscribePacket();
        packet.TopicFilters.Add(topicFilter);
        _shares.OnInboundPacketAsync(new InterceptingPacketEventArgs(clientId, "", new IPEndPoint(IPAddress.Loopback, 1), packet, new Hashtable(), CancellationToken.None));
        _shares.OnSubscribed(new ClientSubscribedTopicEventArgs(clientId, "", topicFilter, new Hashtable()));
    }

    private bool Accepts(string clientId, MqttApplicationMessage message)
    {
        var args = new InterceptingClientApplicationMessageEnqueueEventArgs("publisher", clientId, message);
        _shares.OnEnqueue(args);
        return args.AcceptEnqueue;
    }

    [Fact]
    public void Members_take_turns_and_a_plain_subscriber_gets_every_message()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal) { ["member-a"] = 0, ["member-b"] = 0, ["plain-c"] = 0 };
        for (var i = 0; i < 10; i++)
        {
            var message = new MqttApplicationMessageBuilder().WithTopic("site/x").Build();
            foreach (var client in counts.Keys.ToList())
            {
                counts[client] += Accepts(client, message) ? 1 : 0;
            }
        }

        Assert.Equal(5, counts["member-a"]);
        Assert.Equal(5, counts["member-b"]);
        Assert.Equal(10, counts["plain-c"]);
    }

    [Fact]
    public void A_member_that_lost_its_connection_gets_nothing_while_another_is_connected()
    {
        _shares.OnDisconnected(new ClientDisconnectedEventArgs(
            new MqttConnectPacket { ClientId = "member-a" }, null, MqttClientDisconnectType.NotClean, new IPEndPoint(IPAddress.Loopback, 1), new Hashtable()));

        for (var i = 0; i < 4; i++)
        {
            var message = new MqttApplicationMessageBuilder().WithTopic("site/x").Build();
            Assert.False(Accepts("member-a", message));
            Assert.True(Accepts("member-b", message));
        }
    }

    [Fact]
    public void Enqueue_decisions_allocate_nothing_for_a_plain_subscriber_nor_for_a_message_already_dealt()
    {
        var message = new MqttApplicationMessageBuilder().WithTopic("site/x").Build();
        var plain = new InterceptingClientApplicationMessageEnqueueEventArgs("publisher", "plain-c", message);
        var member = new InterceptingClientApplicationMessageEnqueueEventArgs("publisher", "member-a", message);

        Assert.Equal(0, Allocations.SteadyState(() => _shares.OnEnqueue(plain)));
        Assert.Equal(0, Allocations.SteadyState(() => _shares.OnEnqueue(member)));
    }
}
