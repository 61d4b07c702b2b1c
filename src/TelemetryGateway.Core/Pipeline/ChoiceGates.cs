using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// Notice 9.8: a purpose the device's data subject objected to (or every legitimate-interest purpose, after an objection
/// to all of them) is not processed for that device. One snapshot read and one frozen look-up per call; no allocation.
/// </summary>
public sealed class ObjectionGate(IChoicesSource choices) : IPurposeGate
{
    public ProcessingAction RefusalAction => ProcessingAction.Objected;

    public bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device) =>
        !choices.Current.Of(device).ObjectsTo(purpose.Purpose, purpose.LegalBasis);
}

/// <summary>Notice 9.4: while a device's processing is restricted, only the listed purposes are processed for it.</summary>
public sealed class RestrictionGate(IChoicesSource choices) : IPurposeGate
{
    public ProcessingAction RefusalAction => ProcessingAction.Restricted;

    public bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device) =>
        !choices.Current.Of(device).RestrictsAway(purpose.Purpose);
}

/// <summary>The consent on record in a <see cref="ChoicesSnapshot"/>, for the <see cref="ConsentGate"/>.</summary>
public sealed class RecordedConsent(IChoicesSource choices) : IConsentRegistry
{
    public bool HasConsent(Vocabulary.Purpose purpose, ReadOnlySpan<char> device) => choices.Current.Of(device).HasConsent(purpose);
}
