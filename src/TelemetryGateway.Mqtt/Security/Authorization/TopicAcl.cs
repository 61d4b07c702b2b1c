using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Mqtt.Security.Authorization;

/// <summary>Why a publish or a subscription was refused; logged and counted, instead of the topic (topics carry serials).</summary>
public enum DenialReason
{
    NotAuthorized,
    TopicTooLong,
    TooManyLevels,
    PayloadTooLarge,
    RateExceeded,

    /// <summary>Empty, a NUL, invalid UTF-8, a wildcard in a name, or a malformed filter.</summary>
    TopicInvalid,

    /// <summary>A topic alias above the advertised maximum (the connection is closed).</summary>
    TopicAliasInvalid,

    /// <summary>More filters in one SUBSCRIBE, or more subscriptions in one session, than allowed.</summary>
    TooManySubscriptions,
}

/// <summary>
/// Which topics each role may publish to and subscribe to. A device publishes only under <c>dt/+/+/{its serial}/#</c> and
/// subscribes only to <c>cmd/+/+/{its serial}/#</c>; the installer app publishes commissioning records under
/// <c>app/{its name}/commissioning/#</c>, consent records under <c>app/{its name}/consent/{serial}</c> and commands
/// (<c>cmd/#</c>), and subscribes to its own <c>app/{its name}/#</c>; consent records come from the installer role only
/// (not even an anonymous client);
/// cloud ingestion subscribes to <c>filtered/#</c> only. Nobody but an anonymous client (loopback by default) reads
/// raw device topics. A subscription is allowed only when every topic it can match is allowed, so <c>dt/#</c> is
/// refused to a device even though some of what it matches is the device's own.
/// </summary>
internal static class TopicAcl
{
    public static bool MayPublish(Identity identity, string topic)
    {
        switch (identity.Role)
        {
            case IdentityRole.Anonymous:
                return !IsConsentTopic(topic);
            case IdentityRole.Device:
                // dt/+/+/{serial}/#
                return Level(topic, 0) is "dt" && LevelEquals(topic, 3, identity.Serial) && !HasWildcard(topic);
            case IdentityRole.Installer:
                // app/{name}/commissioning/# and cmd/#
                return !HasWildcard(topic)
                    && ((Level(topic, 0) is "app" && LevelEquals(topic, 1, identity.Name) && Level(topic, 2) is "commissioning")
                        || Level(topic, 0) is "cmd"
                        || (IsConsentTopic(topic) && LevelEquals(topic, 1, identity.Name)));
            default:
                return false;
        }
    }

    public static bool MaySubscribe(Identity identity, string filter) => identity.Role switch
    {
        IdentityRole.Anonymous => true,
        IdentityRole.Device => IsWithin(filter, ["cmd", "+", "+", identity.Serial!, "#"]),
        IdentityRole.Installer => IsWithin(filter, ["app", identity.Name, "#"]),
        IdentityRole.Cloud => IsWithin(filter, ["filtered", "#"]),
        _ => false,
    };

    /// <summary>
    /// True when every topic <paramref name="filter"/> matches is matched by <paramref name="allowed"/> (levels of
    /// literals, <c>+</c>, and a final <c>#</c>). Topics starting with <c>$</c> are never within an allowance.
    /// </summary>
    public static bool IsWithin(string filter, string[] allowed)
    {
        if (filter.Length == 0 || filter[0] == '$' || filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            return false;
        }
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            if (i >= allowed.Length)
            {
                return false;
            }
            var rule = allowed[i];
            var level = levels[i];
            if (rule == "#")
            {
                return true;
            }
            if (level == "#")
            {
                // The filter matches anything below this level (and this level itself); the allowance does not.
                return false;
            }
            if (rule == "+")
            {
                continue;
            }
            if (level == "+" || !string.Equals(level, rule, StringComparison.Ordinal))
            {
                return false;
            }
        }
        // The filter ended; it matches only topics of exactly its levels, which the allowance covers only if the rest of
        // the allowance is a single "#" (which also matches the parent level).
        return levels.Length == allowed.Length || (levels.Length == allowed.Length - 1 && allowed[^1] == "#");
    }

    /// <summary>
    /// True for a consent topic, <c>app/{installer}/consent/{serial}</c> (exactly four levels); its installer level is
    /// <paramref name="installer"/> and its serial <paramref name="device"/>. Results go to five-level topics below it.
    /// </summary>
    public static bool IsConsentTopic(string topic, out ReadOnlySpan<char> installer, out ReadOnlySpan<char> device)
    {
        installer = device = default;
        if (Level(topic, 0) is not "app" || Level(topic, 2) is not "consent" || Level(topic, 4) is not "\0")
        {
            return false;
        }
        installer = Level(topic, 1);
        device = Level(topic, 3);
        return device is not "\0";
    }

    public static bool IsConsentTopic(string topic) => IsConsentTopic(topic, out _, out _);

    private static bool HasWildcard(string topic) => topic.AsSpan().IndexOfAny('+', '#') >= 0;

    private static bool LevelEquals(string topic, int index, string? expected) =>
        expected is not null && Level(topic, index).SequenceEqual(expected);

    private static ReadOnlySpan<char> Level(string topic, int index)
    {
        var rest = topic.AsSpan();
        for (var i = 0; i < index; i++)
        {
            var slash = rest.IndexOf('/');
            if (slash < 0)
            {
                return "\0";
            }
            rest = rest[(slash + 1)..];
        }
        var end = rest.IndexOf('/');
        return end < 0 ? rest : rest[..end];
    }
}
