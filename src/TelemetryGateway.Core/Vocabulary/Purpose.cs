namespace TelemetryGateway.Core.Vocabulary;

/// <summary>Purposes of processing, as in section 4 of the privacy notice (4.1 to 4.19, in order).</summary>
public enum Purpose
{
    AfterSalesService,
    ProductImprovement,
    Security,
    LegalCompliance,
    ContractEnforcement,
    MarketResearch,
    BusinessPerformance,
    Relationship,
    Diagnostics,
    Marketing,
    SafetyRecall,
    Personalization,
    Operations,
    ThirdPartyFeatures,
    Communication,
    Disputes,
    ContractFulfilment,
    CorporateTransactions,
    ConsentedOther,
}
