using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using MQTTnet;
using TelemetryGateway.Mqtt.Security.Authorization;

namespace TelemetryGateway.Mqtt.Tests.Security;

/// <summary>
/// Property-based check of the subscription rule against MQTTnet's own topic matching: whenever a filter is judged
/// within an allowance, every topic the filter matches is matched by the allowance too (the rule never lets a
/// subscription read more than the role may).
/// </summary>
public sealed class TopicAclProperties
{
    private static readonly string[][] s_allowances = [["cmd", "+", "+", "SN1", "#"], ["filtered", "#"], ["app", "inst-1", "#"]];

    public sealed record Case(int Allowance, string[] Topic, int[] Wildcards, int Cut)
    {
        public string TopicText => string.Join('/', Topic);

        /// <summary>A filter made from the topic: some levels turned into '+', and from <see cref="Cut"/> on, '#'.</summary>
        public string Filter
        {
            get
            {
                var levels = Topic.Select((level, i) => Wildcards.Contains(i) ? "+" : level).ToList();
                if (Cut < levels.Count)
                {
                    levels = [.. levels.Take(Cut), "#"];
                }
                return string.Join('/', levels);
            }
        }

        public override string ToString() => $"allowance {Allowance}, filter '{Filter}', topic '{TopicText}'";
    }

    public static Arbitrary<Case> Cases() => Arb.From(
        from allowance in Gen.Choose(0, s_allowances.Length - 1)
        from length in Gen.Choose(1, 7)
        from topic in Gen.Elements("cmd", "filtered", "app", "inst-1", "SN1", "SN2", "x", "").ArrayOf(length)
        from wildcards in Gen.Choose(0, 6).ArrayOf()
        from cut in Gen.Choose(0, 8)
        select new Case(allowance, topic, wildcards, cut));

    [Property(MaxTest = 2000, Arbitrary = [typeof(TopicAclProperties)])]
    public bool Allowed_filter_matches_only_allowed_topics(Case @case, string[] otherLevels)
    {
        var allowance = s_allowances[@case.Allowance];
        var filter = @case.Filter;
        if (!TopicAcl.IsWithin(filter, allowance))
        {
            return true;
        }
        var pattern = string.Join('/', allowance);
        // The topic the filter was made from, and variations of it, must all fall within the allowance when the filter matches them.
        var topics = new List<string> { @case.TopicText, @case.TopicText + "/y", string.Join('/', @case.Topic.Take(Math.Max(1, @case.Cut))) };
        if (otherLevels is { Length: > 0 })
        {
            topics.Add(string.Join('/', otherLevels.Select(l => (l ?? "").Replace("/", "", StringComparison.Ordinal).Replace("+", "", StringComparison.Ordinal).Replace("#", "", StringComparison.Ordinal))));
        }
        foreach (var topic in topics)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch
                && MqttTopicFilterComparer.Compare(topic, pattern) != MqttTopicFilterCompareResult.IsMatch)
            {
                return false;
            }
        }
        return true;
    }
}
