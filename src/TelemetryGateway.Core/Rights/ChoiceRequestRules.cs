using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Rights;

/// <summary>
/// What makes a choice acceptable, the same for every way in (MQTT, admin API, CLI). Every problem is reported at
/// once, in words that name fields and purpose ids, never the device.
/// </summary>
public static class ChoiceRequestRules
{
    public const int MaxDeviceLength = 64;
    public const int MaxNoticeVersionLength = 64;
    public const int MaxActorLength = 256;

    /// <summary>The problems of <paramref name="request"/>; empty when it may be recorded.</summary>
    public static List<string> Validate(ChoiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = DeviceErrors(request.Device);
        if (string.IsNullOrWhiteSpace(request.NoticeVersion) || request.NoticeVersion.Length > MaxNoticeVersionLength || !IsPrintable(request.NoticeVersion))
        {
            errors.Add($"noticeVersion: required, 1 to {MaxNoticeVersionLength} printable characters");
        }
        if (string.IsNullOrEmpty(request.Actor) || request.Actor.Length > MaxActorLength)
        {
            errors.Add("actor: required");
        }
        switch (request.Action)
        {
            case ChoiceAction.Grant:
                RequirePurposes(request, errors);
                foreach (var purpose in request.Purposes.Purposes())
                {
                    if (!PrivacyVocabulary.AllowedLegalBases(purpose).Contains(LegalBasis.Consent))
                    {
                        errors.Add($"purposes: '{purpose.Id()}' is not processed on consent (notice section 5), so consent cannot be granted for it");
                    }
                }
                break;
            case ChoiceAction.Withdraw:
                RequirePurposes(request, errors);
                break;
            case ChoiceAction.Objection or ChoiceAction.LiftObjection:
                if (request.Purposes.IsEmpty && !request.AllLegitimateInterest)
                {
                    errors.Add("purposes: at least one purpose, or allLegitimateInterest");
                }
                break;
            case ChoiceAction.Restrict or ChoiceAction.LiftRestriction:
                // An empty restriction is allowed: it stops every purpose for the device.
                if (request.Action == ChoiceAction.LiftRestriction && !request.Purposes.IsEmpty)
                {
                    errors.Add("purposes: lift-restriction takes no purposes");
                }
                break;
        }
        if (request.AllLegitimateInterest && request.Action is not (ChoiceAction.Objection or ChoiceAction.LiftObjection))
        {
            errors.Add("allLegitimateInterest: only for object and lift-objection");
        }
        return errors;
    }

    /// <summary>The problems of a device id (the stream's device capture, e.g. a serial number).</summary>
    public static List<string> DeviceErrors(string? device)
    {
        var errors = new List<string>();
        if (string.IsNullOrEmpty(device) || device.Length > MaxDeviceLength || !IsPrintable(device) || device.AsSpan().IndexOfAny("/+#") >= 0)
        {
            errors.Add($"device: 1 to {MaxDeviceLength} printable characters, without '/', '+' or '#'");
        }
        return errors;
    }

    private static void RequirePurposes(ChoiceRequest request, List<string> errors)
    {
        if (request.Purposes.IsEmpty)
        {
            errors.Add("purposes: at least one purpose");
        }
    }

    private static bool IsPrintable(string text)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) && c != ' ')
            {
                return false;
            }
        }
        return true;
    }
}
