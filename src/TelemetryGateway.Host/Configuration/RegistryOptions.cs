using System.Globalization;
using System.Xml;

namespace TelemetryGateway.Host.Configuration;

/// <summary>
/// <c>Gateway:Registry</c>: how long the registry of the data subjects' choices keeps its records (notice 8). Durations
/// are ISO 8601 (<c>P3Y</c>, <c>P6Y2M</c>, <c>P30D</c>, <c>PT12H</c>; a year counts 365 days, a month 30) or .NET
/// time spans (<c>1095.00:00:00</c>).
/// </summary>
public sealed record RegistryOptions
{
    public const string SectionName = "Gateway:Registry";

    /// <summary>The longest duration accepted, so that "now minus it" stays a date.</summary>
    private static readonly TimeSpan s_longest = TimeSpan.FromDays(100 * 365);

    /// <summary>
    /// The choices of a device not changed for this long are no longer on record: its consent ends (a device without
    /// records has none), as do its objections and restriction. Three years: the regular limitation period for claims
    /// (notice 8.1(2)(a)), after which a choice nobody renewed is not kept "for the minimum period necessary" (8.1).
    /// </summary>
    public string Retention { get; init; } = "P3Y";

    /// <summary>
    /// How long the history (the audit record: every change, the expiries and the erasure entries) is kept once no longer
    /// in effect; at least <see cref="Retention"/>. Six years, the longer statutory limitation and record-keeping
    /// periods, and the two months the notice adds after a limitation period (8.1(2)(b)).
    /// </summary>
    public string AuditRetention { get; init; } = "P6Y2M";

    /// <summary>How often the retention pass runs (also once at start).</summary>
    public TimeSpan RetentionInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary><see cref="Retention"/> as a duration (valid options only).</summary>
    public TimeSpan RetentionPeriod() => ParseDuration(Retention) ?? throw new InvalidOperationException($"{SectionName}:Retention is not valid");

    /// <summary><see cref="AuditRetention"/> as a duration (valid options only).</summary>
    public TimeSpan AuditRetentionPeriod() => ParseDuration(AuditRetention) ?? throw new InvalidOperationException($"{SectionName}:AuditRetention is not valid");

    public IEnumerable<string> Validate(string path)
    {
        var retention = Check(path, nameof(Retention), Retention, out var retentionError);
        if (retentionError is not null)
        {
            yield return retentionError;
        }
        var audit = Check(path, nameof(AuditRetention), AuditRetention, out var auditError);
        if (auditError is not null)
        {
            yield return auditError;
        }
        if (retention is { } r && audit is { } a && a < r)
        {
            yield return $"{path}:AuditRetention ({AuditRetention}) must be at least Retention ({Retention}): the history of a choice outlives the choice";
        }
        if (RetentionInterval < TimeSpan.FromSeconds(1) || RetentionInterval > TimeSpan.FromDays(1))
        {
            yield return $"{path}:RetentionInterval must be between 1 second and 1 day";
        }
    }

    private static TimeSpan? Check(string path, string name, string value, out string? error)
    {
        error = null;
        var duration = ParseDuration(value);
        if (duration is null)
        {
            error = $"{path}:{name}: '{value}' is not a duration such as P3Y (ISO 8601) or 1095.00:00:00";
        }
        else if (duration <= TimeSpan.Zero || duration > s_longest)
        {
            error = $"{path}:{name} must be positive and at most 100 years";
            duration = null;
        }
        return duration;
    }

    /// <summary>An ISO 8601 duration or a .NET time span; null when <paramref name="value"/> is neither.</summary>
    internal static TimeSpan? ParseDuration(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        var text = value.Trim();
        if (text.StartsWith('P') || text.StartsWith("-P", StringComparison.Ordinal))
        {
            try
            {
                return XmlConvert.ToTimeSpan(text);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                return null;
            }
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span : null;
    }
}
