using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace TelemetryGateway.Mqtt;

/// <summary>
/// What the site broker sends a subscriber, where MQTTnet 5.2 does not follow MQTT 5 itself:
/// <list type="bullet">
/// <item>Message Expiry Interval (§3.3.2.3.3): a message waiting in a session's queue (its client offline, or slow) is
/// not delivered once its interval has passed since the broker received it, and what is delivered carries the interval
/// that remains. MQTTnet copies the interval unchanged and delivers queued messages however old.</item>
/// <item>The client's Maximum Packet Size (§3.1.2.11.4): a PUBLISH larger than the client allows is not sent (the spec
/// says discard it as if it had been sent). MQTTnet sends it anyway.</item>
/// </list>
/// Both on MQTTnet's hooks: the publish hook notes when a message with an expiry arrived, and the outbound packet hook,
/// through which every packet to a client passes as it is sent, drops or rewrites the PUBLISH. A queued PUBLISH is a copy
/// per subscriber that shares the message's user property list, so that list (made for a message without one) is the
/// key to its arrival time; the note goes with the message (a weak table).
/// </summary>
internal sealed class SubscriberDelivery(TimeProvider time)
{
    private sealed record Arrival(long Timestamp, uint ExpirySeconds);

    private readonly ConditionalWeakTable<List<MqttUserProperty>, Arrival> _arrivals = [];
    private readonly ConcurrentDictionary<string, uint> _maximumPacketSizes = new(StringComparer.Ordinal);
    private long _expired;
    private long _tooLarge;

    /// <summary>Queued messages not delivered because their Message Expiry Interval had passed.</summary>
    public long Expired => Interlocked.Read(ref _expired);

    /// <summary>Publishes not sent because they were larger than the subscriber's Maximum Packet Size.</summary>
    public long TooLarge => Interlocked.Read(ref _tooLarge);

    /// <summary>Every message the broker receives (devices, wills, the gateway's own outputs), before it is routed.</summary>
    public void OnPublish(MqttApplicationMessage message)
    {
        if (message.MessageExpiryInterval == 0)
        {
            return;
        }
        message.UserProperties ??= [];
        _arrivals.AddOrUpdate(message.UserProperties, new Arrival(time.GetTimestamp(), message.MessageExpiryInterval));
    }

    /// <summary>An accepted CONNECT: the Maximum Packet Size the client will accept (0: no limit; MQTT 3.1.1 has none).</summary>
    public void OnConnectionAccepted(string clientId, uint maximumPacketSize)
    {
        if (maximumPacketSize == 0)
        {
            _maximumPacketSizes.TryRemove(clientId, out _);
            return;
        }
        _maximumPacketSizes[clientId] = maximumPacketSize;
    }

    public void OnDisconnected(ClientDisconnectedEventArgs args)
    {
        if (args.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            _maximumPacketSizes.TryRemove(args.ClientId, out _);
        }
    }

    /// <summary>Every packet MQTTnet is about to send to a client: an expired or too large PUBLISH is not sent.</summary>
    public void OnOutboundPacket(InterceptingPacketEventArgs args)
    {
        if (args.Packet is not MqttPublishPacket publish)
        {
            return;
        }
        if (publish.UserProperties is { } key && _arrivals.TryGetValue(key, out var arrival))
        {
            var elapsed = time.GetElapsedTime(arrival.Timestamp);
            if (elapsed.TotalSeconds >= arrival.ExpirySeconds)
            {
                args.ProcessPacket = false;
                Interlocked.Increment(ref _expired);
                return;
            }
            // Whole seconds left, rounded down but at least 1 (0 would mean "no expiry"). Computed from the arrival each
            // time, so a packet sent again (DUP) is not reduced twice.
            publish.MessageExpiryInterval = Math.Max(1u, arrival.ExpirySeconds - (uint)elapsed.TotalSeconds);
        }
        if (_maximumPacketSizes.TryGetValue(args.ClientId, out var maximum) && EncodedSize(publish) > maximum)
        {
            args.ProcessPacket = false;
            Interlocked.Increment(ref _tooLarge);
        }
    }

    /// <summary>The size of the PUBLISH as MQTTnet encodes it for an MQTT 5 client (fixed header included).</summary>
    internal static long EncodedSize(MqttPublishPacket publish)
    {
        long properties = 0;
        if (publish.PayloadFormatIndicator != MQTTnet.Protocol.MqttPayloadFormatIndicator.Unspecified)
        {
            properties += 2;
        }
        if (publish.MessageExpiryInterval != 0)
        {
            properties += 5;
        }
        properties += StringProperty(publish.ContentType) + StringProperty(publish.ResponseTopic);
        if (publish.CorrelationData is { } correlation)
        {
            properties += 3 + correlation.Length;
        }
        if (publish.SubscriptionIdentifiers is { } identifiers)
        {
            foreach (var identifier in identifiers)
            {
                properties += 1 + VariableByteIntegerSize(identifier);
            }
        }
        if (publish.TopicAlias != 0)
        {
            properties += 3;
        }
        if (publish.UserProperties is { } user)
        {
            foreach (var property in user)
            {
                properties += 1 + 2 + System.Text.Encoding.UTF8.GetByteCount(property.Name) + 2 + property.ValueBuffer.Length;
            }
        }
        var remaining = 2 + System.Text.Encoding.UTF8.GetByteCount(publish.Topic ?? "")
            + (publish.QualityOfServiceLevel > MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce ? 2 : 0)
            + VariableByteIntegerSize((ulong)properties) + properties + publish.Payload.Length;
        return 1 + VariableByteIntegerSize((ulong)remaining) + remaining;
    }

    private static long StringProperty(string? value) =>
        string.IsNullOrEmpty(value) ? 0 : 3 + System.Text.Encoding.UTF8.GetByteCount(value);

    private static int VariableByteIntegerSize(ulong value) => value switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };
}
