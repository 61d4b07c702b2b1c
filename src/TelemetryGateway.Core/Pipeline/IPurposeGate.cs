using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// One decision of the pipeline's gate step: may this device's message be processed for this purpose at all? Consent,
/// objection and restriction (ObjectionGate, RestrictionGate); residency is the next one. Gates run in order for each purpose of a matched stream, before
/// anything is minimized; the first that refuses decides, and its <see cref="RefusalAction"/> is counted. Called per
/// message and purpose on the receive path: an implementation must not allocate and must not block.
/// </summary>
public interface IPurposeGate
{
    /// <summary>The records-of-processing action counted when this gate refuses (e.g. <see cref="ProcessingAction.NoConsent"/>).</summary>
    ProcessingAction RefusalAction { get; }

    /// <summary>True when <paramref name="purpose"/> may be processed for <paramref name="device"/> (the stream's device capture; may be empty).</summary>
    bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device);
}
