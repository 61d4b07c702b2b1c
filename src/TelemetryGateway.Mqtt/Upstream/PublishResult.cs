using MQTTnet;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>What became of one publish upstream.</summary>
public enum PublishOutcome
{
    /// <summary>The upstream acknowledged the output: it is delivered.</summary>
    Acknowledged,

    /// <summary>Not delivered this time (connection lost, no acknowledgement in time, server busy): send it again later.</summary>
    Transient,

    /// <summary>The upstream will never take this output as it is: it goes to the dead letters, not back into the queue.</summary>
    Rejected,
}

/// <summary>The outcome of one publish and, when it was not acknowledged, a short reason id (never payload or topic).</summary>
public readonly record struct PublishResult(PublishOutcome Outcome, string Reason)
{
    public static PublishResult Acknowledged { get; } = new(PublishOutcome.Acknowledged, "");
    public static PublishResult ConnectionLost { get; } = new(PublishOutcome.Transient, "connection-lost");
    public static PublishResult TimedOut { get; } = new(PublishOutcome.Transient, "timeout");
    public static PublishResult TooLargeForUpstream { get; } = new(PublishOutcome.Rejected, "packet-too-large");

    /// <summary>
    /// Classifies an MQTT 5 PUBACK reason code by its meaning in the spec (§3.4.2.1): 0x87 not authorized, 0x90 topic
    /// name invalid, 0x95 packet too large and 0x99 payload format invalid will not change on a resend; 0x80
    /// unspecified, 0x83 implementation specific and 0x97 quota exceeded (and anything else unknown) may.
    /// </summary>
    public static PublishResult FromReasonCode(MqttClientPublishReasonCode code) => code switch
    {
        MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.NoMatchingSubscribers => Acknowledged,
        MqttClientPublishReasonCode.NotAuthorized => new(PublishOutcome.Rejected, "not-authorized"),
        MqttClientPublishReasonCode.TopicNameInvalid => new(PublishOutcome.Rejected, "topic-name-invalid"),
        MqttClientPublishReasonCode.PacketIdentifierInUse => new(PublishOutcome.Transient, "packet-identifier-in-use"),
        MqttClientPublishReasonCode.QuotaExceeded => new(PublishOutcome.Transient, "quota-exceeded"),
        MqttClientPublishReasonCode.PayloadFormatInvalid => new(PublishOutcome.Rejected, "payload-format-invalid"),
        MqttClientPublishReasonCode.ImplementationSpecificError => new(PublishOutcome.Transient, "implementation-specific-error"),
        _ when (int)code == 0x95 => TooLargeForUpstream,
        _ => new(PublishOutcome.Transient, "unspecified-error"),
    };
}
