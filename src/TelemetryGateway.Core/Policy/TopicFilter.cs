namespace TelemetryGateway.Core.Policy;

/// <summary>
/// An MQTT topic filter with named captures: <c>+</c> matches one level, <c>#</c> the rest (last level only),
/// and <c>{name}</c> matches one level and remembers it, e.g. <c>dt/anker_power/{pn}/{sn}/status</c>.
/// Matching walks the topic once and allocates nothing.
/// </summary>
public sealed class TopicFilter
{
    private readonly Level[] _levels;

    private TopicFilter(string text, Level[] levels, string[] captureNames)
    {
        Text = text;
        _levels = levels;
        CaptureNames = captureNames;
    }

    public string Text { get; }

    /// <summary>Names of the captures, in order of appearance; a capture's index is its position here.</summary>
    public IReadOnlyList<string> CaptureNames { get; }

    public int CaptureIndex(string name)
    {
        for (var i = 0; i < CaptureNames.Count; i++)
        {
            if (CaptureNames[i] == name)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Parses a filter; on failure <paramref name="error"/> says why (the filter text is policy, not personal data).</summary>
    public static TopicFilter? TryParse(string text, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a topic filter cannot be empty";
            return null;
        }
        var parts = text.Split('/');
        var levels = new Level[parts.Length];
        var names = new List<string>();
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part == "#")
            {
                if (i != parts.Length - 1)
                {
                    error = "'#' must be the last level of a topic filter";
                    return null;
                }
                levels[i] = new Level(LevelKind.Rest, null, -1);
            }
            else if (part == "+")
            {
                levels[i] = new Level(LevelKind.Single, null, -1);
            }
            else if (part.Length >= 2 && part[0] == '{' && part[^1] == '}')
            {
                var name = part[1..^1];
                if (!IsCaptureName(name))
                {
                    error = $"capture '{part}' must be '{{name}}' with a name of letters, digits, '_' or '-'";
                    return null;
                }
                if (names.Contains(name))
                {
                    error = $"capture '{{{name}}}' appears twice";
                    return null;
                }
                levels[i] = new Level(LevelKind.Single, null, names.Count);
                names.Add(name);
            }
            else if (part.AsSpan().IndexOfAny("+#{}") >= 0)
            {
                error = $"level '{part}' mixes a wildcard or brace with text; wildcards and captures take a whole level";
                return null;
            }
            else if (part.Contains('\0', StringComparison.Ordinal))
            {
                error = "a topic filter cannot contain U+0000";
                return null;
            }
            else
            {
                levels[i] = new Level(LevelKind.Literal, part, -1);
            }
        }
        return new TopicFilter(text, levels, [.. names]);
    }

    /// <summary>
    /// Matches <paramref name="topic"/>; fills <paramref name="captures"/> (at least <see cref="CaptureNames"/>.Count long)
    /// with the ranges of the captured levels.
    /// </summary>
    public bool TryMatch(ReadOnlySpan<char> topic, Span<Range> captures)
    {
        // MQTT 4.7.2: topics starting with '$' are not matched by a leading wildcard.
        if (topic.Length > 0 && topic[0] == '$' && _levels[0].Kind != LevelKind.Literal)
        {
            return false;
        }
        var start = 0;
        for (var i = 0; i < _levels.Length; i++)
        {
            ref readonly var level = ref _levels[i];
            if (level.Kind == LevelKind.Rest)
            {
                return true;
            }
            if (start > topic.Length)
            {
                return false;
            }
            var slash = topic[start..].IndexOf('/');
            var end = slash < 0 ? topic.Length : start + slash;
            var text = topic[start..end];
            if (level.Kind == LevelKind.Literal)
            {
                if (!text.SequenceEqual(level.Literal))
                {
                    return false;
                }
            }
            else if (level.CaptureIndex >= 0)
            {
                captures[level.CaptureIndex] = new Range(start, end);
            }
            start = end + 1;
        }
        // Every level consumed: the topic must have ended exactly here.
        return start == topic.Length + 1;
    }

    private static bool IsCaptureName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-'))
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() => Text;

    private enum LevelKind : byte
    {
        Literal,
        Single,
        Rest,
    }

    private readonly record struct Level(LevelKind Kind, string? Literal, int CaptureIndex);
}
