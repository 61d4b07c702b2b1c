using System.Text.Json;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// Compiles a purpose's <c>fields</c>: the allowlist of fields it keeps, each with its transform and parameters, nested
/// objects field by field. Shared by every format whose rules name fields (JSON, protobuf).
/// </summary>
internal static class FieldRulesCompiler
{
    /// <summary>The purpose's <c>fields</c>, which it must have; null when missing or in error (reported).</summary>
    public static FieldSet? Required(PolicyReader reader, JsonElement purpose, string path)
    {
        if (!purpose.TryGetProperty("fields", out var fieldsElement))
        {
            reader.Error(PolicyReader.Child(path, "fields"), "is required: name every field this purpose keeps (fields not named are dropped)");
            return null;
        }
        return CompileFieldSet(reader, fieldsElement, PolicyReader.Child(path, "fields"));
    }

    private static FieldSet? CompileFieldSet(PolicyReader reader, JsonElement element, string path)
    {
        if (!reader.ExpectKind(element, path, JsonValueKind.Object))
        {
            return null;
        }
        var rules = new List<FieldRule>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            var fieldPath = PolicyReader.Child(path, property.Name);
            if (!names.Add(property.Name))
            {
                reader.Error(fieldPath, $"field '{property.Name}' is named twice");
                continue;
            }
            var rule = CompileFieldRule(reader, property.Name, property.Value, fieldPath);
            if (rule is not null)
            {
                rules.Add(rule);
            }
        }
        if (names.Count > FieldSet.MaxFields)
        {
            reader.Error(path, $"names {names.Count} fields; at most {FieldSet.MaxFields} per object level");
        }
        return new FieldSet([.. rules]);
    }

    private static FieldRule? CompileFieldRule(PolicyReader reader, string name, JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            var id = element.GetString()!;
            if (!TransformIds.TryParse(id, out var shorthand))
            {
                reader.Error(path, $"unknown transform '{id}'; known: {string.Join(", ", TransformIds.All)}");
                return null;
            }
            if (shorthand == TransformKind.PseudonymizeSameLength)
            {
                reader.Error(path, "'pseudonymize-same-length' applies to topic captures only; a field takes 'pseudonymize'");
                return null;
            }
            return new FieldRule(name, shorthand, TransformParameters.Default, null);
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            reader.Error(path, "must be a transform name or an object with 'transform' (and its parameters) or 'fields'");
            return null;
        }
        reader.CheckProperties(element, path, "transform", "fields", "ipv4Prefix", "ipv6Prefix", "decimals", "length", "description");
        var hasTransform = element.TryGetProperty("transform", out var transformElement);
        var hasFields = element.TryGetProperty("fields", out var fieldsElement);
        if (hasTransform && hasFields)
        {
            reader.Error(path, "has both 'transform' and 'fields'; 'fields' already means: keep this object, filtered field by field");
            return null;
        }
        if (hasFields)
        {
            foreach (var parameter in (ReadOnlySpan<string>)["ipv4Prefix", "ipv6Prefix", "decimals", "length"])
            {
                if (element.TryGetProperty(parameter, out _))
                {
                    reader.Error(PolicyReader.Child(path, parameter), "applies to a transform, not to an object with 'fields'");
                }
            }
            var fields = CompileFieldSet(reader, fieldsElement, PolicyReader.Child(path, "fields"));
            return fields is null ? null : new FieldRule(name, TransformKind.Keep, TransformParameters.Default, fields);
        }
        if (!hasTransform)
        {
            reader.Error(path, "needs 'transform' or 'fields'");
            return null;
        }
        if (!reader.ExpectKind(transformElement, PolicyReader.Child(path, "transform"), JsonValueKind.String))
        {
            return null;
        }
        var transformId = transformElement.GetString()!;
        if (!TransformIds.TryParse(transformId, out var kind))
        {
            reader.Error(PolicyReader.Child(path, "transform"), $"unknown transform '{transformId}'; known: {string.Join(", ", TransformIds.All)}");
            return null;
        }
        if (kind == TransformKind.PseudonymizeSameLength)
        {
            reader.Error(PolicyReader.Child(path, "transform"), "'pseudonymize-same-length' applies to topic captures only; a field takes 'pseudonymize'");
            return null;
        }
        var defaults = TransformParameters.Default;
        var parameters = defaults with
        {
            Ipv4PrefixLength = Parameter(reader, element, path, "ipv4Prefix", kind, TransformKind.TruncateIp, defaults.Ipv4PrefixLength, 0, 32),
            Ipv6PrefixLength = Parameter(reader, element, path, "ipv6Prefix", kind, TransformKind.TruncateIp, defaults.Ipv6PrefixLength, 0, 128),
            Decimals = Parameter(reader, element, path, "decimals", kind, TransformKind.CoarsenCoordinates, defaults.Decimals, 0, 8),
            GeohashLength = Parameter(reader, element, path, "length", kind, TransformKind.Geohash, defaults.GeohashLength, 1, 12),
        };
        return new FieldRule(name, kind, parameters, null);
    }

    private static int Parameter(
        PolicyReader reader, JsonElement rule, string path, string parameter, TransformKind kind, TransformKind owner, int fallback, int min, int max)
    {
        if (!rule.TryGetProperty(parameter, out _))
        {
            return fallback;
        }
        if (kind != owner)
        {
            reader.Error(PolicyReader.Child(path, parameter), $"is a parameter of '{owner.Id()}', not of '{kind.Id()}'");
            return fallback;
        }
        return reader.OptionalInt(rule, path, parameter, fallback, min, max);
    }
}
