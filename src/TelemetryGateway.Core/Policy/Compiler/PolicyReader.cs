using System.Globalization;
using System.Text.Json;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// Reads the parts of a policy document and collects its diagnostics: every section's compiler reports through one
/// reader, so validation walks the whole document and lists every error with its JSON path.
/// </summary>
internal sealed class PolicyReader(List<PolicyError> errors)
{
    /// <summary>Errors reported so far; a section compares it before and after to learn whether it added any.</summary>
    public int ErrorCount => errors.Count;

    public void Error(string path, string message) => errors.Add(new PolicyError(path, message));

    public static string Child(string path, string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            ? $"{path}.{name}"
            : $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

    public static bool IsIdentifier(string value) => value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    public int OptionalInt(JsonElement parent, string path, string name, int fallback, int min, int max)
    {
        if (!parent.TryGetProperty(name, out var element))
        {
            return fallback;
        }
        var childPath = Child(path, name);
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value))
        {
            Error(childPath, "must be an integer");
            return fallback;
        }
        if (value < min || value > max)
        {
            Error(childPath, string.Create(CultureInfo.InvariantCulture, $"must be between {min} and {max}"));
            return fallback;
        }
        return value;
    }

    public string? RequiredString(JsonElement parent, string path, string name)
    {
        var childPath = Child(path, name);
        if (!parent.TryGetProperty(name, out var element))
        {
            Error(childPath, "is required");
            return null;
        }
        if (!ExpectKind(element, childPath, JsonValueKind.String))
        {
            return null;
        }
        var value = element.GetString()!;
        if (value.Length == 0)
        {
            Error(childPath, "cannot be empty");
            return null;
        }
        return value;
    }

    public void CheckProperties(JsonElement element, string path, params ReadOnlySpan<string> known)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                Error(Child(path, property.Name), $"unknown property '{property.Name}'; expected one of: {string.Join(", ", known.ToArray())}");
            }
        }
    }

    public bool ExpectKind(JsonElement element, string path, JsonValueKind kind)
    {
        if (element.ValueKind == kind)
        {
            return true;
        }
        Error(path, $"must be {Describe(kind)}, not {Describe(element.ValueKind)}");
        return false;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a value",
    };
}
