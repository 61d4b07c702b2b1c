using System.Buffers;
using System.Text.Json;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Mqtt.Rights;

/// <summary>
/// The JSON body of a consent message from the commissioning app:
/// <c>{"action":"grant|withdraw|object|lift-objection|restrict|lift-restriction","purposes":["personalization"],
/// "allLegitimateInterest":false,"noticeVersion":"2025-09-26"}</c>. Strict: an unknown or repeated property, a wrong
/// type or trailing content is an error; every error is reported, never the values (only purpose ids it knows).
/// </summary>
internal static class ConsentMessage
{
    public const int MaxBytes = 4096;

    /// <summary>The action (as the message names it) and its fields; the errors when there are any.</summary>
    public static (ChoiceAction Action, PurposeSet Purposes, bool AllLegitimateInterest, string NoticeVersion, List<string> Errors) Parse(in ReadOnlySequence<byte> payload)
    {
        var errors = new List<string>();
        ChoiceAction action = default;
        var purposes = PurposeSet.Empty;
        var allLegitimateInterest = false;
        string? noticeVersion = null;
        if (payload.Length > MaxBytes)
        {
            errors.Add($"body: larger than {MaxBytes} bytes");
            return (action, purposes, allLegitimateInterest, "", errors);
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var hasAction = false;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                errors.Add("body: a JSON object is expected");
                return (action, purposes, allLegitimateInterest, "", errors);
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                if (!seen.Add(name))
                {
                    errors.Add($"{Shown(name)}: given twice");
                    reader.Skip();
                    continue;
                }
                switch (name)
                {
                    case "action" when reader.TokenType == JsonTokenType.String:
                        hasAction = ChoiceIds.TryParseAction(reader.GetString(), out action);
                        if (!hasAction)
                        {
                            errors.Add("action: one of grant, withdraw, object, lift-objection, restrict, lift-restriction");
                        }
                        break;
                    case "purposes" when reader.TokenType == JsonTokenType.StartArray:
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            if (reader.TokenType == JsonTokenType.String && PrivacyVocabulary.TryParsePurpose(reader.GetString()!, out var purpose))
                            {
                                purposes = purposes.With(purpose);
                            }
                            else
                            {
                                errors.Add("purposes: each must be a purpose id of the notice's section 4 (e.g. personalization)");
                                reader.Skip();
                            }
                        }
                        break;
                    case "allLegitimateInterest" when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                        allLegitimateInterest = reader.GetBoolean();
                        break;
                    case "noticeVersion" when reader.TokenType == JsonTokenType.String:
                        noticeVersion = reader.GetString();
                        break;
                    case "action" or "purposes" or "allLegitimateInterest" or "noticeVersion":
                        errors.Add($"{name}: wrong type");
                        reader.Skip();
                        break;
                    default:
                        errors.Add($"{Shown(name)}: unknown property");
                        reader.Skip();
                        break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                errors.Add("body: content after the JSON object");
            }
        }
        catch (JsonException)
        {
            errors.Add("body: not well-formed JSON");
        }
        if (!hasAction && !seen.Contains("action"))
        {
            errors.Add("action: required");
        }
        return (action, purposes, allLegitimateInterest, noticeVersion ?? "", errors);
    }

    /// <summary>A property name is echoed only when short and plain: anything else could itself be personal data.</summary>
    private static string Shown(string name) => name.Length <= 32 && name.All(char.IsAsciiLetterOrDigit) ? name : "(a property)";
}
