using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Rights;

/// <summary>
/// The current choices of one device's data subject, folded from its records in order. Immutable; a change makes a new
/// instance. Rules (privacy model, principle 9):
/// <list type="bullet">
/// <item>a consent-based purpose needs a grant on record that no withdrawal or objection came after (5.3, 9.7);</item>
/// <item>an objection stops its purposes when processed on legitimate interest or consent, and an objection to every
/// legitimate-interest purpose stops all of those (9.8(1)); contract and legal-obligation processing is not subject to
/// objection. An objection also ends any earlier consent for its purposes, so after an objection to marketing only a
/// new grant made after it re-enables marketing (9.8(2));</item>
/// <item>a restriction lets only its listed purposes through, whatever their legal basis (9.4).</item>
/// </list>
/// </summary>
public sealed class DeviceChoices
{
    /// <summary>A device without records: no consent given, no objection, no restriction.</summary>
    public static DeviceChoices None { get; } = new(PurposeSet.Empty, PurposeSet.Empty, false, false, PurposeSet.Empty);

    private DeviceChoices(PurposeSet consented, PurposeSet objected, bool objectsToLegitimateInterest, bool isRestricted, PurposeSet restrictedTo)
    {
        Consented = consented;
        Objected = objected;
        ObjectsToLegitimateInterest = objectsToLegitimateInterest;
        IsRestricted = isRestricted;
        RestrictedTo = restrictedTo;
    }

    public PurposeSet Consented { get; }
    public PurposeSet Objected { get; }
    public bool ObjectsToLegitimateInterest { get; }
    public bool IsRestricted { get; }

    /// <summary>The only purposes processed while <see cref="IsRestricted"/>.</summary>
    public PurposeSet RestrictedTo { get; }

    /// <summary>These choices after <paramref name="request"/>.</summary>
    public DeviceChoices Apply(ChoiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var purposes = request.Purposes;
        return request.Action switch
        {
            // A new grant lifts an earlier objection to the same purposes: it is the data subject's later, explicit choice.
            ChoiceAction.Grant => new(Consented.Union(purposes), Objected.Except(purposes), ObjectsToLegitimateInterest, IsRestricted, RestrictedTo),
            ChoiceAction.Withdraw => new(Consented.Except(purposes), Objected, ObjectsToLegitimateInterest, IsRestricted, RestrictedTo),
            ChoiceAction.Objection => new(
                Consented.Except(purposes), Objected.Union(purposes), ObjectsToLegitimateInterest || request.AllLegitimateInterest, IsRestricted, RestrictedTo),
            // Lifting an objection does not bring back a consent the objection ended: that takes a new grant.
            ChoiceAction.LiftObjection => new(
                Consented, Objected.Except(purposes), ObjectsToLegitimateInterest && !request.AllLegitimateInterest, IsRestricted, RestrictedTo),
            ChoiceAction.Restrict => new(Consented, Objected, ObjectsToLegitimateInterest, true, purposes),
            ChoiceAction.LiftRestriction => new(Consented, Objected, ObjectsToLegitimateInterest, false, PurposeSet.Empty),
            _ => throw new ArgumentOutOfRangeException(nameof(request), request.Action, "unknown choice action"),
        };
    }

    /// <summary>True when consent for <paramref name="purpose"/> is on record.</summary>
    public bool HasConsent(Purpose purpose) => Consented.Contains(purpose);

    /// <summary>True when an objection stops <paramref name="purpose"/> processed on <paramref name="basis"/>.</summary>
    public bool ObjectsTo(Purpose purpose, LegalBasis basis) => basis switch
    {
        LegalBasis.LegitimateInterest => ObjectsToLegitimateInterest || Objected.Contains(purpose),
        LegalBasis.Consent => Objected.Contains(purpose),
        _ => false,
    };

    /// <summary>True when a restriction leaves <paramref name="purpose"/> out.</summary>
    public bool RestrictsAway(Purpose purpose) => IsRestricted && !RestrictedTo.Contains(purpose);

    /// <summary>
    /// What the gates would count for <paramref name="purpose"/> on <paramref name="basis"/> (consent, then objection, then
    /// restriction), or null when these choices let it through.
    /// </summary>
    public ProcessingAction? Refusal(Purpose purpose, LegalBasis basis)
    {
        if (basis == LegalBasis.Consent && !HasConsent(purpose))
        {
            return ProcessingAction.NoConsent;
        }
        if (ObjectsTo(purpose, basis))
        {
            return ProcessingAction.Objected;
        }
        return RestrictsAway(purpose) ? ProcessingAction.Restricted : null;
    }

    /// <summary>True when these choices are those of a device without records (nothing to keep).</summary>
    public bool IsNone => Consented.IsEmpty && Objected.IsEmpty && !ObjectsToLegitimateInterest && !IsRestricted;
}
