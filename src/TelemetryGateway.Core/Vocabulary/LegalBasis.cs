namespace TelemetryGateway.Core.Vocabulary;

/// <summary>Legal bases for processing, as in section 5 of the privacy notice.</summary>
public enum LegalBasis
{
    /// <summary>5.1 performance of a contract.</summary>
    Contract,
    /// <summary>5.2 legitimate interests.</summary>
    LegitimateInterest,
    /// <summary>5.3 consent, revocable for the future.</summary>
    Consent,
    /// <summary>5.4 compliance with legal obligations.</summary>
    LegalObligation,
}
