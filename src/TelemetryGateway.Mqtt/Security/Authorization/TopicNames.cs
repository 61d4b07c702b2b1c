using System.Text;

namespace TelemetryGateway.Mqtt.Security.Authorization;

/// <summary>
/// Well-formedness of topic names and filters, checked before the ACL (MQTT 5 §4.7, §1.5.4): not empty, no U+0000,
/// valid UTF-8, within the configured size and depth; a name has no wildcard; in a filter <c>+</c> and <c>#</c> fill
/// a whole level and <c>#</c> is the last one. MQTTnet decodes invalid UTF-8 into U+FFFD, so a name carrying U+FFFD is
/// refused as invalid UTF-8 (a device has no reason to send the replacement character itself).
/// </summary>
internal static class TopicNames
{
    public static DenialReason? CheckName(string topic, ConnectionLimitOptions limits)
    {
        if (Limits(topic, limits) is { } reason)
        {
            return reason;
        }
        return topic.AsSpan().IndexOfAny('+', '#') >= 0 ? DenialReason.TopicInvalid : null;
    }

    public static DenialReason? CheckFilter(string filter, ConnectionLimitOptions limits)
    {
        if (Limits(filter, limits) is { } reason)
        {
            return reason;
        }
        var rest = filter.AsSpan();
        while (true)
        {
            var slash = rest.IndexOf('/');
            var level = slash < 0 ? rest : rest[..slash];
            if (level.IndexOfAny('+', '#') >= 0 && level.Length != 1)
            {
                return DenialReason.TopicInvalid;
            }
            if (level is "#" && slash >= 0)
            {
                // '#' matches the rest; anything after it (cmd/+/+/S/#/x) is not a filter.
                return DenialReason.TopicInvalid;
            }
            if (slash < 0)
            {
                return null;
            }
            rest = rest[(slash + 1)..];
        }
    }

    private static DenialReason? Limits(string topic, ConnectionLimitOptions limits)
    {
        if (topic.Length == 0 || topic.AsSpan().IndexOfAny('\0', '\uFFFD') >= 0)
        {
            return DenialReason.TopicInvalid;
        }
        if (Encoding.UTF8.GetByteCount(topic) > limits.MaxTopicBytes)
        {
            return DenialReason.TopicTooLong;
        }
        return topic.AsSpan().Count('/') + 1 > limits.MaxTopicLevels ? DenialReason.TooManyLevels : null;
    }
}
