using System.Collections.Concurrent;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// MQTT 5 PUBACK reason codes that say what the gateway did with a QoS 1 publish. MQTTnet answers a successful publish
/// that no local client subscribed to with <c>0x10 No matching subscribers</c>, although the gateway consumed it (its
/// outputs went upstream or to the outbox); such a publish is acknowledged <c>0x00 Success</c>. A quarantined publish
/// is answered <c>0x99 Payload format invalid</c> by the ingress (MQTTnet keeps a code that is not success), and a
/// publish the gateway could not store keeps its <c>0x83</c>. A publish on a topic no stream names, with no local
/// subscriber, keeps <c>0x10</c>: nothing took it.
/// The packet identifier is not part of MQTTnet's intercepting-publish event, so the inbound packet hook notes it for
/// the publish the same receive loop handles next, and the outbound hook rewrites the PUBACK with that identifier.
/// </summary>
internal static class PublishAcknowledgements
{
    private const string CurrentPublishItem = "telemetry-gateway.publish-packet-id";
    private const string ConsumedItem = "telemetry-gateway.consumed-publishes";

    /// <summary>Inbound packet hook: remembers the identifier of a QoS 1 publish for <see cref="MarkConsumed"/>.</summary>
    public static void OnInboundPacket(InterceptingPacketEventArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Packet is MqttPublishPacket publish)
        {
            if (publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce)
            {
                args.SessionItems[CurrentPublishItem] = publish.PacketIdentifier;
            }
            else
            {
                args.SessionItems.Remove(CurrentPublishItem);
            }
        }
    }

    /// <summary>The ingress consumed the publish being handled (its outputs are delivered or stored, or none was due).</summary>
    public static void MarkConsumed(InterceptingPublishEventArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.ApplicationMessage.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtLeastOnce || args.SessionItems[CurrentPublishItem] is not ushort packetId)
        {
            return;
        }
        if (args.SessionItems[ConsumedItem] is not ConcurrentDictionary<ushort, bool> consumed)
        {
            consumed = new ConcurrentDictionary<ushort, bool>();
            args.SessionItems[ConsumedItem] = consumed;
        }
        consumed[packetId] = true;
    }

    /// <summary>Outbound packet hook: a consumed publish's PUBACK says success rather than "no matching subscribers".</summary>
    public static void OnOutboundPacket(InterceptingPacketEventArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Packet is MqttPubAckPacket ack
            && args.SessionItems[ConsumedItem] is ConcurrentDictionary<ushort, bool> consumed
            && consumed.TryRemove(ack.PacketIdentifier, out _)
            && ack.ReasonCode == MqttPubAckReasonCode.NoMatchingSubscribers)
        {
            ack.ReasonCode = MqttPubAckReasonCode.Success;
        }
    }
}
