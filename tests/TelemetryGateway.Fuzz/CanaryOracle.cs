using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Fuzz;

/// <summary>
/// Decides whether an output leaks a <c>never</c> canary. The fuzzer may move a canary into a field the policy keeps
/// (it splices seeds together), where keeping it is the policy working as written; so a canary in the output is a leak
/// only when every place it appears in the input is a place where a seed planted it (a JSON path, array indexes
/// ignored), or when the input is not JSON that System.Text.Json accepts and the engine forwarded it anyway.
/// </summary>
internal sealed class CanaryOracle
{
    private readonly string[] _canaries;
    private readonly HashSet<string> _plantedPaths = new(StringComparer.Ordinal);

    private readonly CanaryCheck _check;
    private readonly HashSet<string> _plantedLines = new(StringComparer.Ordinal);

    public CanaryOracle(IEnumerable<string> canaries, IEnumerable<byte[]> seeds, CanaryCheck check = CanaryCheck.JsonPaths)
    {
        _check = check;
        _canaries = check == CanaryCheck.None ? [] : canaries.Where(c => c.Length > 0).ToArray();
        foreach (var seed in seeds)
        {
            if (check is CanaryCheck.ProtobufPaths or CanaryCheck.SolixFields)
            {
                foreach (var (context, value) in Fields(seed) ?? [])
                {
                    if (_canaries.Any(c => BinaryFields.Count(value, c) > 0))
                    {
                        _plantedPaths.Add(context);
                    }
                }
                continue;
            }
            if (check == CanaryCheck.TextLines)
            {
                foreach (var line in Lines(seed).Where(l => _canaries.Any(c => l.Contains(c, StringComparison.OrdinalIgnoreCase))))
                {
                    _plantedLines.Add(line);
                }
                continue;
            }
            foreach (var (path, value) in Values(seed) ?? [])
            {
                if (_canaries.Any(c => value.Contains(c, StringComparison.OrdinalIgnoreCase)))
                {
                    _plantedPaths.Add(path);
                }
            }
        }
    }

    public int CanaryCount => _canaries.Length;
    public int PlantedPathCount => _check == CanaryCheck.TextLines ? _plantedLines.Count : _plantedPaths.Count;

    /// <summary>The canary that leaked into <paramref name="outputs"/>, or null.</summary>
    public string? FindLeak(byte[] input, IReadOnlyList<byte[]> outputs)
    {
        if (outputs.Count == 0)
        {
            return null;
        }
        List<(string Path, string Value)>? values = null;
        var parsed = false;
        foreach (var canary in _canaries)
        {
            if (!outputs.Any(o => Contains(o, canary)
                || (_check == CanaryCheck.SolixFields && BinaryFields.SolixBinary(o) is { } binary && BinaryFields.Count(binary, canary) > 0)))
            {
                continue;
            }
            if (_check is CanaryCheck.ProtobufPaths or CanaryCheck.SolixFields)
            {
                // A leak when every occurrence of the canary in the input is inside a field a seed planted it in.
                if (_check == CanaryCheck.SolixFields && BinaryFields.Count(input, canary) > 0)
                {
                    continue;
                }
                var whole = _check == CanaryCheck.SolixFields ? BinaryFields.SolixBinary(input) : input;
                var fields = Fields(input);
                if (whole is null || fields is null)
                {
                    continue;
                }
                var total = BinaryFields.Count(whole, canary);
                var planted = fields.Where(f => _plantedPaths.Contains(f.Context)).Sum(f => BinaryFields.Count(f.Value, canary));
                if (total > 0 && planted == total)
                {
                    return canary;
                }
                continue;
            }
            if (_check == CanaryCheck.TextLines)
            {
                // A leak when every input line carrying the canary is a line a seed planted it in, unchanged.
                var carrying = Lines(input).Where(l => l.Contains(canary, StringComparison.OrdinalIgnoreCase)).ToList();
                if (carrying.Count > 0 && carrying.All(_plantedLines.Contains))
                {
                    return canary;
                }
                continue;
            }
            if (!parsed)
            {
                values = Values(input);
                parsed = true;
            }
            if (values is null)
            {
                return canary;
            }
            var occurrences = values.Where(v => v.Value.Contains(canary, StringComparison.OrdinalIgnoreCase)).ToList();
            if (occurrences.Count > 0 && occurrences.All(v => _plantedPaths.Contains(v.Path)))
            {
                return canary;
            }
        }
        return null;
    }

    /// <summary>The field values of a binary input with their contexts; null when it has none to read.</summary>
    private List<(string Context, byte[] Value)>? Fields(byte[] input) => _check switch
    {
        CanaryCheck.ProtobufPaths => BinaryFields.Protobuf(input),
        CanaryCheck.SolixFields => BinaryFields.SolixBinary(input) is { } binary ? BinaryFields.SolixFields(binary) : null,
        _ => null,
    };

    private static IEnumerable<string> Lines(byte[] text) =>
        Encoding.UTF8.GetString(text).Split('\n').Select(l => l.TrimEnd('\r'));

    private static bool Contains(byte[] output, string canary)
    {
        if (Encoding.UTF8.GetString(output).Contains(canary, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        // Escaped forms (\u0041 ...) inside JSON strings.
        var values = Values(output);
        return values is not null && values.Any(v => v.Value.Contains(canary, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Every string and number of a JSON document with its path (<c>$.a.b[*].c</c>), keys included as values of path <c>key:</c>; null when not JSON.</summary>
    private static List<(string Path, string Value)>? Values(byte[] json)
    {
        var values = new List<(string, string)>();
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
            var path = new List<string>();
            var inArray = new Stack<bool>();
            string? property = null;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.GetString()!;
                        values.Add(("key:" + Render(path) + "." + property, property));
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        if (inArray.Count > 0)
                        {
                            path.Add(inArray.Peek() ? "[*]" : "." + property);
                        }
                        inArray.Push(reader.TokenType == JsonTokenType.StartArray);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        inArray.Pop();
                        if (path.Count > 0 && inArray.Count > 0)
                        {
                            path.RemoveAt(path.Count - 1);
                        }
                        break;
                    case JsonTokenType.String:
                    case JsonTokenType.Number:
                        var leaf = inArray.Count > 0 && inArray.Peek() ? "[*]" : "." + property;
                        var text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : Encoding.UTF8.GetString(reader.ValueSpan);
                        values.Add((Render(path) + leaf, text));
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
        return values;
    }

    private static string Render(List<string> path) => "$" + string.Concat(path);
}
