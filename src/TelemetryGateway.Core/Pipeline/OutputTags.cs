using System.Text;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// The tags every output of one stream purpose carries (privacy model, principle 6): purpose, legal basis,
/// categories, policy and retention, compiled once with the policy, as text and as UTF-8. The one source for MQTT 5
/// user properties, the protobuf envelope, the HTTP ingress headers and the <c>minimize</c> verb.
/// </summary>
public sealed class OutputTags
{
    internal OutputTags(StreamPurpose purpose)
    {
        Purpose = purpose.Purpose.Id();
        LegalBasis = purpose.LegalBasis.Id();
        CategoryList = purpose.Categories.Ids();
        Categories = string.Join(',', CategoryList);
        Policy = purpose.PolicyTag;
        Retention = purpose.Retention;
        ExpirySeconds = (uint)Math.Min(uint.MaxValue, purpose.RetentionPeriod.TotalSeconds);
        PurposeUtf8 = Encoding.UTF8.GetBytes(Purpose);
        LegalBasisUtf8 = Encoding.UTF8.GetBytes(LegalBasis);
        CategoriesUtf8 = Encoding.UTF8.GetBytes(Categories);
        PolicyUtf8 = Encoding.UTF8.GetBytes(Policy);
        RetentionUtf8 = Encoding.UTF8.GetBytes(Retention);
        if (purpose.Aggregate is { } aggregate)
        {
            Anonymous = true;
            Window = aggregate.WindowText;
            K = aggregate.MinDevices;
            Epsilon = aggregate.EpsilonText;
        }
    }

    /// <summary>
    /// True for the outputs of an aggregate entry: anonymous aggregates over at least <see cref="K"/> devices, no
    /// per-device record (their <see cref="CategoryList"/> is empty: none of the notice's personal categories).
    /// </summary>
    public bool Anonymous { get; }

    /// <summary>An aggregate's window length (ISO-8601 duration); its start travels with each release. Null otherwise.</summary>
    public string? Window { get; }

    /// <summary>An aggregate's k (the fewest distinct devices of a released group); 0 otherwise.</summary>
    public int K { get; }

    /// <summary>An aggregate's privacy budget per window and group, or <c>none</c> without noise; null otherwise.</summary>
    public string? Epsilon { get; }

    /// <summary>The purpose id, e.g. <c>product-improvement</c>.</summary>
    public string Purpose { get; }

    /// <summary>The legal basis id, e.g. <c>legitimate-interest</c>.</summary>
    public string LegalBasis { get; }

    /// <summary>The stream's category ids, comma-separated in vocabulary order.</summary>
    public string Categories { get; }

    public IReadOnlyList<string> CategoryList { get; }

    /// <summary><c>id@version+sha256.hash</c> of the policy that produced the output.</summary>
    public string Policy { get; }

    /// <summary>The retention as the policy writes it (ISO-8601 duration).</summary>
    public string Retention { get; }

    /// <summary>The retention in seconds, the MQTT message expiry of the output (capped at the field's range).</summary>
    public uint ExpirySeconds { get; }

    public ReadOnlyMemory<byte> PurposeUtf8 { get; }
    public ReadOnlyMemory<byte> LegalBasisUtf8 { get; }
    public ReadOnlyMemory<byte> CategoriesUtf8 { get; }
    public ReadOnlyMemory<byte> PolicyUtf8 { get; }
    public ReadOnlyMemory<byte> RetentionUtf8 { get; }
}
