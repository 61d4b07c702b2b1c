using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Benchmarks;

/// <summary>One purpose's output of the <see cref="JsonNodeMinimizer"/>: the purpose and its UTF-8 JSON payload.</summary>
public sealed record JsonNodeOutput(StreamPurpose Purpose, byte[] Payload);

/// <summary>
/// The comparison the engine has to beat: the same policy applied the way one would write it without the engine,
/// by parsing the payload into a <see cref="JsonNode"/> tree, pruning and rewriting it per purpose, and serializing.
/// It follows the engine's rules (unnamed fields dropped, <c>null</c> kept, a value of the wrong type for its
/// transform dropped, arrays filtered element by element) so both produce the same documents, and it is written to
/// be reasonable, not slow: one parse per message, in-place edits by index, no LINQ on the hot path.
/// Like the engine without a consent registry, it skips consent-based purposes. It rewrites payloads only; the
/// engine also renders each output topic, so the comparison slightly favours this baseline.
/// </summary>
public sealed class JsonNodeMinimizer
{
    private static readonly JsonSerializerOptions s_outputOptions = new()
    {
        // The engine's escaping, so both outputs have the same bytes for the same text.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    // The keys generalize-geo keeps (the engine's list): country and region, nothing finer.
    private static readonly HashSet<string> s_generalGeoKeys = new(StringComparer.Ordinal)
    {
        "country", "country_code", "countryCode", "country_iso_code", "region", "region_code", "regionCode",
        "region_iso_code", "subdivision", "subdivision_code",
    };

    private readonly CompiledPolicy _policy;
    private readonly byte[] _secret;
    private readonly string _keyId;
    private readonly JsonDocumentOptions _parseOptions;
    private readonly Range[] _captures = new Range[16];

    public JsonNodeMinimizer(CompiledPolicy policy, byte[] secret, string keyId)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(keyId);
        _policy = policy;
        _secret = secret;
        _keyId = keyId;
        _parseOptions = new JsonDocumentOptions { MaxDepth = policy.Limits.MaxDepth };
    }

    /// <summary>One output per purpose that applies; empty when no stream matches or the payload is not a JSON object.</summary>
    public IReadOnlyList<JsonNodeOutput> Minimize(string topic, byte[] payload)
    {
        var stream = _policy.Match(topic, _captures);
        if (stream is null || JsonNode.Parse(payload, documentOptions: _parseOptions) is not JsonObject parsed)
        {
            return [];
        }
        var purposes = new List<StreamPurpose>(stream.Purposes.Count);
        foreach (var purpose in stream.Purposes)
        {
            // Aggregate entries produce no per-message output (the engine folds them into their windows).
            if (purpose.LegalBasis != LegalBasis.Consent && purpose.Aggregate is null)
            {
                purposes.Add(purpose);
            }
        }
        var outputs = new List<JsonNodeOutput>(purposes.Count);
        for (var i = 0; i < purposes.Count; i++)
        {
            // Every purpose but the last edits a copy; the last may edit the parsed tree itself.
            var document = i == purposes.Count - 1 ? parsed : (JsonObject)parsed.DeepClone();
            ApplyFields(document, purposes[i].Fields ?? throw new InvalidOperationException("the JSON baseline needs a JSON stream"));
            outputs.Add(new JsonNodeOutput(purposes[i], Encoding.UTF8.GetBytes(document.ToJsonString(s_outputOptions))));
        }
        return outputs;
    }

    private void ApplyFields(JsonObject target, FieldSet fields)
    {
        // Backwards by index, so removing a property does not move the ones still to visit.
        for (var i = target.Count - 1; i >= 0; i--)
        {
            var (name, value) = target.GetAt(i);
            var rule = Find(fields, name);
            if (rule is null || !TryApply(rule, value, out var result))
            {
                target.RemoveAt(i);
            }
            else if (!ReferenceEquals(result, value))
            {
                target.SetAt(i, result);
            }
        }
    }

    private static FieldRule? Find(FieldSet fields, string name)
    {
        foreach (var rule in fields.Rules)
        {
            if (rule.Name == name)
            {
                return rule;
            }
        }
        return null;
    }

    /// <summary>Applies <paramref name="rule"/> to <paramref name="value"/>; false when the value is dropped.</summary>
    private bool TryApply(FieldRule rule, JsonNode? value, out JsonNode? result)
    {
        result = value;
        if (rule.Transform == TransformKind.Drop && rule.Fields is null)
        {
            return false;
        }
        if (rule.Transform == TransformKind.Keep && rule.Fields is null)
        {
            return true;
        }
        switch (value)
        {
            case null:
                // null carries nothing to protect, and keeps the field's presence visible.
                return true;
            case JsonArray array:
                // A rule for a value applies to each element of an array of such values.
                ApplyElements(rule, array);
                return true;
            case JsonObject obj when rule.Fields is not null:
                ApplyFields(obj, rule.Fields);
                return true;
            case JsonObject obj when rule.Transform == TransformKind.GeneralizeGeo:
                KeepGeneralGeography(obj);
                return true;
            case JsonObject:
                return false;
        }
        if (rule.Fields is not null || rule.Transform == TransformKind.GeneralizeGeo)
        {
            return false;
        }
        result = Transform(rule, (JsonValue)value);
        return result is not null;
    }

    private void ApplyElements(FieldRule rule, JsonArray array)
    {
        for (var i = array.Count - 1; i >= 0; i--)
        {
            var element = array[i];
            if (!TryApply(rule, element, out var result))
            {
                array.RemoveAt(i);
            }
            else if (!ReferenceEquals(result, element))
            {
                array[i] = result;
            }
        }
    }

    private static void KeepGeneralGeography(JsonObject geography)
    {
        for (var i = geography.Count - 1; i >= 0; i--)
        {
            var (name, value) = geography.GetAt(i);
            var kind = value?.GetValueKind();
            if (!s_generalGeoKeys.Contains(name) || kind is not (JsonValueKind.String or JsonValueKind.Number))
            {
                geography.RemoveAt(i);
            }
        }
    }

    /// <summary>The transformed scalar, or null when the value is not of a kind the transform takes.</summary>
    private JsonValue? Transform(FieldRule rule, JsonValue value)
    {
        var kind = value.GetValueKind();
        if (kind is not (JsonValueKind.String or JsonValueKind.Number))
        {
            return null;
        }
        var parameters = rule.Parameters;
        return rule.Transform switch
        {
            // A number is pseudonymized by its JSON text, as the engine does.
            TransformKind.Pseudonymize => JsonValue.Create(Pseudonym(kind == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString())),
            TransformKind.TruncateIp when kind == JsonValueKind.String =>
                TruncateIp(value.GetValue<string>(), parameters) is { } truncated ? JsonValue.Create(truncated) : null,
            TransformKind.CoarsenCoordinates when kind == JsonValueKind.Number =>
                double.IsFinite(value.GetValue<double>()) ? JsonValue.Create(Round(value.GetValue<double>(), parameters.Decimals)) : null,
            TransformKind.CoarsenCoordinates =>
                CoarsenPair(value.GetValue<string>(), parameters.Decimals) is { } pair ? JsonValue.Create(pair) : null,
            TransformKind.TruncateIp => null,
            _ => throw new NotSupportedException($"The JSON node baseline does not implement '{rule.Transform.Id()}'; the benchmarked policy does not use it."),
        };
    }

    private string Pseudonym(string text)
    {
        var digest = HMACSHA256.HashData(_secret, Encoding.UTF8.GetBytes(text));
        return _keyId + "." + Convert.ToHexStringLower(digest, 0, 16);
    }

    private static string? TruncateIp(string text, TransformParameters parameters)
    {
        if (!IPAddress.TryParse(text, out var address))
        {
            return null;
        }
        var prefixLength = address.AddressFamily == AddressFamily.InterNetwork ? parameters.Ipv4PrefixLength
            // An IPv4-mapped address is really an IPv4 address, so it gets the IPv4 prefix.
            : address.IsIPv4MappedToIPv6 ? 96 + parameters.Ipv4PrefixLength
            : parameters.Ipv6PrefixLength;
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var kept = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - kept));
        }
        return new IPAddress(bytes).ToString();
    }

    private static string? CoarsenPair(string text, int decimals)
    {
        var parts = text.Split([',', ';'], StringSplitOptions.TrimEntries);
        if (parts.Length != 2
            || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var latitude)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var longitude)
            || latitude is not (>= -90 and <= 90) || longitude is not (>= -180 and <= 180))
        {
            return null;
        }
        var format = "F" + decimals.ToString(CultureInfo.InvariantCulture);
        return Round(latitude, decimals).ToString(format, CultureInfo.InvariantCulture) + ","
            + Round(longitude, decimals).ToString(format, CultureInfo.InvariantCulture);
    }

    private static double Round(double value, int decimals)
    {
        var rounded = Math.Round(value, decimals, MidpointRounding.AwayFromZero);
        // -0.0 would be written "-0"; a coarse position has no sign at zero.
        return rounded == 0 ? 0 : rounded;
    }
}
