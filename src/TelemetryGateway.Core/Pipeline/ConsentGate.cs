using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// Privacy model: a purpose whose legal basis is consent is processed only for a device whose owner's consent for it
/// is on record; every other legal basis passes. Looked up per message, so a withdrawal takes effect for the next one.
/// </summary>
public sealed class ConsentGate(IConsentRegistry registry) : IPurposeGate
{
    public ProcessingAction RefusalAction => ProcessingAction.NoConsent;

    public bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device) =>
        purpose.LegalBasis != LegalBasis.Consent || registry.HasConsent(purpose.Purpose, device);
}
