namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// One output ready for the upstream: final topic, payload (an envelope or the minimized payload alone) and the tags
/// that travel as MQTT 5 user properties, the policy stream it came from (for records and dead letters, not sent), and
/// the device it is about (the stream's device capture, empty when none; kept so the data subject's rights reach
/// outputs still waiting, never sent), the region of the upstream it goes to (its destination; one upstream per region)
/// and the safeguard of that transfer (notice §7: <c>none</c> within the origin region, else <c>adequacy</c> or <c>scc</c>).
/// This is what the outbox stores.
/// </summary>
public sealed record UpstreamMessage(
    string Topic,
    byte[] Payload,
    string ContentType,
    string Purpose,
    string LegalBasis,
    string Categories,
    string Policy,
    string Retention,
    uint ExpirySeconds,
    string Stream = "",
    string Device = "",
    AggregateTags? Aggregate = null,
    string Region = "",
    string Safeguard = "");

/// <summary>
/// The tags an anonymous aggregate carries beside the others (issue 18): <c>anonymous: true</c>, its window
/// (<c>{start}/{ISO-8601 length}</c>), <c>k</c> and <c>epsilon</c> (the budget per window and group, or <c>none</c>).
/// </summary>
public sealed record AggregateTags(string Window, int K, string Epsilon);

/// <summary>
/// An <see cref="UpstreamMessage"/> as stored in the outbox, with its position in the delivery order and the time its
/// retention ends (null: none), after which it is dropped rather than sent late.
/// </summary>
public sealed record StoredMessage(long Sequence, UpstreamMessage Message, DateTimeOffset? ExpiresAt = null)
{
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expiresAt && expiresAt <= now;
}

/// <summary>How an <see cref="UpstreamMessage"/> goes on the wire: QoS 1, the tags as MQTT 5 user properties, expiry from retention.</summary>
internal static class UpstreamMessageMapping
{
    public static MQTTnet.MqttApplicationMessage ToApplicationMessage(this UpstreamMessage message)
    {
        var builder = new MQTTnet.MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload)
            .WithContentType(message.ContentType);
        return WithTags(builder, message, message.ExpirySeconds).Build();
    }

    /// <summary>
    /// A batch on the wire: its own topic and content type, the <c>batch</c> user property (how many elements), the tags
    /// every element shares, and the shortest expiry among them.
    /// </summary>
    public static MQTTnet.MqttApplicationMessage ToApplicationMessage(this OutgoingBatch batch)
    {
        var builder = new MQTTnet.MqttApplicationMessageBuilder()
            .WithTopic(batch.Topic)
            .WithPayload(new System.Buffers.ReadOnlySequence<byte>(batch.Buffer, 0, batch.Length))
            .WithContentType(UpstreamBatcher.ContentType)
            .WithUserProperty("batch", Utf8(batch.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return WithTags(builder, batch.First, batch.ExpirySeconds).Build();
    }

    private static MQTTnet.MqttApplicationMessageBuilder WithTags(MQTTnet.MqttApplicationMessageBuilder builder, UpstreamMessage message, uint expirySeconds)
    {
        builder.WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
            .WithUserProperty("purpose", Utf8(message.Purpose))
            .WithUserProperty("legal-basis", Utf8(message.LegalBasis))
            .WithUserProperty("categories", Utf8(message.Categories))
            .WithUserProperty("policy", Utf8(message.Policy))
            .WithUserProperty("retention", Utf8(message.Retention));
        if (message.Region.Length > 0)
        {
            builder.WithUserProperty("region", Utf8(message.Region)).WithUserProperty("safeguard", Utf8(message.Safeguard));
        }
        if (message.Aggregate is { } aggregate)
        {
            builder.WithUserProperty("anonymous", Utf8("true"))
                .WithUserProperty("window", Utf8(aggregate.Window))
                .WithUserProperty("k", Utf8(aggregate.K.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .WithUserProperty("epsilon", Utf8(aggregate.Epsilon));
        }
        if (expirySeconds > 0)
        {
            builder.WithMessageExpiryInterval(expirySeconds);
        }
        return builder;
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => System.Text.Encoding.UTF8.GetBytes(value);
}
