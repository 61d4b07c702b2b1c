namespace TelemetryGateway.Core.Policy;

/// <summary>What a rule does to the value it names. Policy files use the kebab-case ids in <see cref="TransformIds"/>.</summary>
public enum TransformKind : byte
{
    Drop,
    Keep,
    Pseudonymize,
    TruncateIp,
    CoarsenCoordinates,
    Geohash,
    GeneralizeGeo,
    RedactText,

    /// <summary>A keyed pseudonym as long as the value, in A-Z0-9 (SOLIX serials: same pseudonym in topic and payload).</summary>
    PseudonymizeSameLength,
}

/// <summary>The policy-file ids of the transforms.</summary>
public static class TransformIds
{
    private static readonly string[] s_ids =
        ["drop", "keep", "pseudonymize", "truncate-ip", "coarsen-coordinates", "geohash", "generalize-geo", "redact-text", "pseudonymize-same-length"];

    public static IReadOnlyList<string> All => s_ids;

    public static string Id(this TransformKind kind) => s_ids[(int)kind];

    public static bool TryParse(string id, out TransformKind kind)
    {
        var index = Array.IndexOf(s_ids, id);
        kind = index < 0 ? default : (TransformKind)index;
        return index >= 0;
    }
}
