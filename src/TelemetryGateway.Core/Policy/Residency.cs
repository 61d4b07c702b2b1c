using System.Collections.Frozen;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// Where the outputs of one stream purpose may go (privacy notice §7): the regions named in the policy and the
/// safeguard a transfer outside the region the data comes from (the device's, else the site's) relies on. A purpose
/// without a residency entry stays in its origin region: no transfer at all.
/// </summary>
public sealed class Residency
{
    /// <summary>The safeguard of a transfer within the origin region: none is needed.</summary>
    public const string NoTransfer = "none";

    public const string Adequacy = "adequacy";
    public const string StandardContractualClauses = "scc";

    /// <summary>The regions the notice names; an operator may name others (its own cloud regions).</summary>
    public static IReadOnlyList<string> KnownRegions { get; } = ["eea", "uk", "us", "cn"];

    /// <summary>Regions without an adequacy decision (notice §7.2(1)): a transfer there needs standard contractual clauses.</summary>
    public static FrozenSet<string> WithoutAdequacyDecision { get; } = FrozenSet.ToFrozenSet(["us", "cn"], StringComparer.Ordinal);

    public static IReadOnlyList<string> Safeguards { get; } = [Adequacy, StandardContractualClauses];

    /// <summary>The origin region only, no transfer: the residency of a purpose whose policy entry names none.</summary>
    public static Residency OriginOnly { get; } = new(null, null);

    internal Residency(IReadOnlyList<string>? regions, string? safeguard)
    {
        Regions = regions;
        Safeguard = safeguard;
        _regions = regions is null ? null : FrozenSet.ToFrozenSet(regions, StringComparer.Ordinal);
    }

    private readonly FrozenSet<string>? _regions;

    /// <summary>The regions the policy allows, in its order; null: only the origin region.</summary>
    public IReadOnlyList<string>? Regions { get; }

    /// <summary><see cref="Adequacy"/> or <see cref="StandardContractualClauses"/>; null: no transfer out of the origin region.</summary>
    public string? Safeguard { get; }

    /// <summary>
    /// Whether an output whose data comes from <paramref name="originRegion"/> may go to an upstream in
    /// <paramref name="destinationRegion"/>, and the safeguard its tags name (<see cref="NoTransfer"/> within the region).
    /// </summary>
    public bool Allows(string destinationRegion, string originRegion, out string safeguard)
    {
        safeguard = NoTransfer;
        var listed = _regions is null ? destinationRegion == originRegion : _regions.Contains(destinationRegion);
        if (!listed)
        {
            return false;
        }
        if (destinationRegion == originRegion)
        {
            return true;
        }
        if (Safeguard is null || (Safeguard == Adequacy && WithoutAdequacyDecision.Contains(destinationRegion)))
        {
            return false;
        }
        safeguard = Safeguard;
        return true;
    }

    /// <summary>A region id: lower-case letters, digits and '-', 2 to 32 characters (<c>eea</c>, <c>us</c>, <c>eu-central</c>).</summary>
    public static bool IsRegionId(string? value) =>
        value is { Length: >= 2 and <= 32 } && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
        && value[0] != '-' && value[^1] != '-';
}
