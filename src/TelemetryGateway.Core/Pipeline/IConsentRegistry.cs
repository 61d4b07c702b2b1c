using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// Which device owners have consented to which consent-based purposes (privacy model: a purpose whose legal basis
/// is consent is forwarded only for a device whose owner's consent is on record). Looked up per message, so a
/// withdrawal takes effect for the next message. Implementations must not allocate per call.
/// </summary>
public interface IConsentRegistry
{
    bool HasConsent(Purpose purpose, ReadOnlySpan<char> device);
}

/// <summary>The registry when none is configured: no consent is on record, so consent-based purposes are never forwarded.</summary>
public sealed class NoConsentRecorded : IConsentRegistry
{
    public static NoConsentRecorded Instance { get; } = new();

    public bool HasConsent(Purpose purpose, ReadOnlySpan<char> device) => false;
}
