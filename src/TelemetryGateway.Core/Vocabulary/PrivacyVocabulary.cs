using System.Collections.Frozen;
using System.Text;

namespace TelemetryGateway.Core.Vocabulary;

/// <summary>
/// The stable identifiers of privacy-model.md (used verbatim in policy files, tags, metrics and docs),
/// and which legal bases the privacy notice gives for each purpose.
/// </summary>
public static class PrivacyVocabulary
{
    private static readonly (DataCategory Category, string Id)[] s_categories =
    [
        (DataCategory.Account, "account"),
        (DataCategory.Settings, "settings"),
        (DataCategory.Network, "network"),
        (DataCategory.Device, "device"),
        (DataCategory.Usage, "usage"),
        (DataCategory.Owner, "owner"),
    ];

    private static readonly string[] s_purposeIds =
    [
        "after-sales-service", "product-improvement", "security", "legal-compliance", "contract-enforcement",
        "market-research", "business-performance", "relationship", "diagnostics", "marketing",
        "safety-recall", "personalization", "operations", "third-party-features", "communication",
        "disputes", "contract-fulfilment", "corporate-transactions", "consented-other",
    ];

    private static readonly string[] s_legalBasisIds = ["contract", "legitimate-interest", "consent", "legal-obligation"];

    private static readonly byte[][] s_purposeIdsUtf8 = Array.ConvertAll(s_purposeIds, Encoding.UTF8.GetBytes);
    private static readonly byte[][] s_legalBasisIdsUtf8 = Array.ConvertAll(s_legalBasisIds, Encoding.UTF8.GetBytes);

    private static readonly FrozenDictionary<string, DataCategory> s_categoryById =
        s_categories.ToFrozenDictionary(c => c.Id, c => c.Category, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, Purpose> s_purposeById =
        Enumerable.Range(0, s_purposeIds.Length).ToFrozenDictionary(i => s_purposeIds[i], i => (Purpose)i, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, LegalBasis> s_legalBasisById =
        Enumerable.Range(0, s_legalBasisIds.Length).ToFrozenDictionary(i => s_legalBasisIds[i], i => (LegalBasis)i, StringComparer.Ordinal);

    // Section 5 and the table after it: which bases the notice names for the processing behind each purpose.
    // Consent is always possible (5.3, 4.19); purposes the notice ties to consent alone have no other basis.
    private static readonly FrozenDictionary<Purpose, LegalBasis[]> s_allowedBases = new Dictionary<Purpose, LegalBasis[]>
    {
        [Purpose.AfterSalesService] = [LegalBasis.Contract, LegalBasis.Consent],
        [Purpose.ProductImprovement] = [LegalBasis.LegitimateInterest, LegalBasis.Consent],
        [Purpose.Security] = [LegalBasis.LegitimateInterest, LegalBasis.LegalObligation],
        [Purpose.LegalCompliance] = [LegalBasis.LegalObligation],
        [Purpose.ContractEnforcement] = [LegalBasis.LegitimateInterest, LegalBasis.Contract],
        [Purpose.MarketResearch] = [LegalBasis.Consent, LegalBasis.LegitimateInterest],
        [Purpose.BusinessPerformance] = [LegalBasis.LegitimateInterest],
        [Purpose.Relationship] = [LegalBasis.Contract, LegalBasis.LegitimateInterest],
        [Purpose.Diagnostics] = [LegalBasis.LegitimateInterest, LegalBasis.Contract],
        [Purpose.Marketing] = [LegalBasis.Consent],
        [Purpose.SafetyRecall] = [LegalBasis.LegitimateInterest, LegalBasis.LegalObligation],
        [Purpose.Personalization] = [LegalBasis.Consent],
        [Purpose.Operations] = [LegalBasis.LegitimateInterest],
        [Purpose.ThirdPartyFeatures] = [LegalBasis.Consent, LegalBasis.LegitimateInterest],
        [Purpose.Communication] = [LegalBasis.Contract, LegalBasis.LegitimateInterest, LegalBasis.Consent],
        [Purpose.Disputes] = [LegalBasis.LegitimateInterest, LegalBasis.LegalObligation],
        [Purpose.ContractFulfilment] = [LegalBasis.Contract],
        [Purpose.CorporateTransactions] = [LegalBasis.LegitimateInterest, LegalBasis.LegalObligation],
        [Purpose.ConsentedOther] = [LegalBasis.Consent],
    }.ToFrozenDictionary();

    public static IEnumerable<string> PurposeIds => s_purposeIds;
    public static IEnumerable<string> CategoryIds => s_categories.Select(c => c.Id);
    public static IEnumerable<string> LegalBasisIds => s_legalBasisIds;

    public static bool TryParseCategory(string id, out DataCategory category) => s_categoryById.TryGetValue(id, out category);
    public static bool TryParsePurpose(string id, out Purpose purpose) => s_purposeById.TryGetValue(id, out purpose);
    public static bool TryParseLegalBasis(string id, out LegalBasis basis) => s_legalBasisById.TryGetValue(id, out basis);

    public static string Id(this Purpose purpose) => s_purposeIds[(int)purpose];
    public static string Id(this LegalBasis basis) => s_legalBasisIds[(int)basis];
    public static ReadOnlySpan<byte> Utf8Id(this Purpose purpose) => s_purposeIdsUtf8[(int)purpose];
    public static ReadOnlySpan<byte> Utf8Id(this LegalBasis basis) => s_legalBasisIdsUtf8[(int)basis];

    /// <summary>Category ids in the notice's order, for tags.</summary>
    public static IReadOnlyList<string> Ids(this DataCategory categories) =>
        s_categories.Where(c => (categories & c.Category) != 0).Select(c => c.Id).ToArray();

    /// <summary>The legal bases the notice gives for a purpose.</summary>
    public static IReadOnlyList<LegalBasis> AllowedLegalBases(Purpose purpose) => s_allowedBases[purpose];
}
