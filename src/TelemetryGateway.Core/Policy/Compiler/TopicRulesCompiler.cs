using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// Compiles a purpose's topic rules: what happens to each capture of the stream's topic filter (<c>captures</c>) and
/// the output topic built from them (<c>topic</c>).
/// </summary>
internal static class TopicRulesCompiler
{
    public static Dictionary<string, TransformKind> CompileCaptures(PolicyReader reader, JsonElement purpose, string path, TopicFilter? filter)
    {
        var rules = new Dictionary<string, TransformKind>(StringComparer.Ordinal);
        if (!purpose.TryGetProperty("captures", out var element) || !reader.ExpectKind(element, PolicyReader.Child(path, "captures"), JsonValueKind.Object))
        {
            return rules;
        }
        foreach (var property in element.EnumerateObject())
        {
            var capturePath = PolicyReader.Child(PolicyReader.Child(path, "captures"), property.Name);
            if (filter is not null && filter.CaptureIndex(property.Name) < 0)
            {
                reader.Error(capturePath, $"the topic filter has no capture '{{{property.Name}}}'");
                continue;
            }
            if (!reader.ExpectKind(property.Value, capturePath, JsonValueKind.String))
            {
                continue;
            }
            var id = property.Value.GetString()!;
            if (!TransformIds.TryParse(id, out var kind))
            {
                reader.Error(capturePath, $"unknown transform '{id}'; known: {string.Join(", ", TransformIds.All)}");
            }
            else if (kind is not (TransformKind.Keep or TransformKind.Pseudonymize or TransformKind.PseudonymizeSameLength or TransformKind.Drop))
            {
                reader.Error(capturePath, $"'{id}' cannot apply to a topic level; a capture can be 'keep', 'pseudonymize', 'pseudonymize-same-length' or 'drop'");
            }
            else
            {
                rules[property.Name] = kind;
            }
        }
        return rules;
    }

    public static OutputTopic? CompileOutputTopic(
        PolicyReader reader, JsonElement purpose, string path, TopicFilter? filter, Dictionary<string, TransformKind> captureRules)
    {
        var topicPath = PolicyReader.Child(path, "topic");
        var template = reader.RequiredString(purpose, path, "topic");
        if (template is null || filter is null)
        {
            return null;
        }
        var parts = new List<OutputTopic.Part>();
        var ok = true;
        var levels = template.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (i > 0)
            {
                parts.Add(new OutputTopic.Part("/"u8.ToArray(), -1, TransformKind.Keep));
            }
            if (level.Length >= 2 && level[0] == '{' && level[^1] == '}')
            {
                var name = level[1..^1];
                var index = filter.CaptureIndex(name);
                if (index < 0)
                {
                    reader.Error(topicPath, $"uses capture '{{{name}}}', which the stream's topic filter does not have");
                    ok = false;
                }
                else if (!captureRules.TryGetValue(name, out var rule))
                {
                    reader.Error(topicPath, $"uses capture '{{{name}}}' but $.captures names no rule for it ('keep' or 'pseudonymize')");
                    ok = false;
                }
                else if (rule == TransformKind.Drop)
                {
                    reader.Error(topicPath, $"uses capture '{{{name}}}', which this purpose drops");
                    ok = false;
                }
                else
                {
                    parts.Add(new OutputTopic.Part(null, index, rule));
                }
            }
            else if (level.AsSpan().IndexOfAny("+#{}\0") >= 0 || (i == 0 && level.StartsWith('$')))
            {
                reader.Error(topicPath, $"level '{level}' is not a valid output topic level (no wildcards, braces or leading '$')");
                ok = false;
            }
            else if (level.Length > 0)
            {
                parts.Add(new OutputTopic.Part(Encoding.UTF8.GetBytes(level), -1, TransformKind.Keep));
            }
        }
        return ok ? new OutputTopic(template, [.. parts]) : null;
    }
}
