namespace TelemetryGateway.Core.Rights;

/// <summary>What a data subject's choice does (notice 5.3, 9.4, 9.7, 9.8).</summary>
public enum ChoiceAction
{
    /// <summary>Consent given for purposes (5.3).</summary>
    Grant,

    /// <summary>Consent withdrawn for purposes (9.7), with effect for the future.</summary>
    Withdraw,

    /// <summary>Objection to purposes, or to every legitimate-interest purpose (9.8(1)); to marketing (9.8(2)).</summary>
    Objection,

    /// <summary>An earlier objection lifted (the data subject's own new choice).</summary>
    LiftObjection,

    /// <summary>Processing restricted to a list of purposes (9.4).</summary>
    Restrict,

    /// <summary>A restriction lifted.</summary>
    LiftRestriction,
}

/// <summary>Where a choice was recorded from.</summary>
public enum ChoiceSource
{
    Mqtt,
    AdminApi,
    Cli,
}

/// <summary>
/// One choice of a data subject for one device, as asked for: the action, its purposes (for an objection, or instead
/// every legitimate-interest purpose), the notice version it was given under and who recorded it from where.
/// </summary>
public sealed record ChoiceRequest(
    string Device, ChoiceAction Action, PurposeSet Purposes, bool AllLegitimateInterest, string NoticeVersion, string Actor, ChoiceSource Source);

/// <summary>A recorded choice: the request with its sequence number in the history and the time it took effect.</summary>
public sealed record ChoiceRecord(long Sequence, DateTimeOffset Time, ChoiceRequest Request);

/// <summary>Stable ids of actions and sources, as stored, logged, sent and typed.</summary>
public static class ChoiceIds
{
    private static readonly string[] s_actions = ["grant", "withdraw", "object", "lift-objection", "restrict", "lift-restriction"];
    private static readonly string[] s_sources = ["mqtt", "admin-api", "cli"];

    /// <summary>The history action of an erasure (not a <see cref="ChoiceAction"/>: it ends the device's records).</summary>
    public const string Erase = "erase";

    /// <summary>
    /// The history action of the registry's retention (notice 8): the device's choices were not changed for the
    /// configured retention and are no longer on record (not a <see cref="ChoiceAction"/>: no way in can append it).
    /// </summary>
    public const string Expire = "expire";

    /// <summary>The actor and source the retention pass records its entries under.</summary>
    public const string Retention = "retention";

    public static string Id(this ChoiceAction action) => s_actions[(int)action];

    public static string Id(this ChoiceSource source) => s_sources[(int)source];

    public static bool TryParseAction(string? id, out ChoiceAction action)
    {
        var index = Array.IndexOf(s_actions, id);
        action = (ChoiceAction)Math.Max(index, 0);
        return index >= 0;
    }

    public static bool TryParseSource(string? id, out ChoiceSource source)
    {
        var index = Array.IndexOf(s_sources, id);
        source = (ChoiceSource)Math.Max(index, 0);
        return index >= 0;
    }
}
