using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Rights;

/// <summary>A set of <see cref="Purpose"/> values as one bit each: copied and tested without allocation on the gate path.</summary>
public readonly record struct PurposeSet(uint Bits)
{
    private static readonly uint s_all = (1u << Enum.GetValues<Purpose>().Length) - 1;

    public static PurposeSet Empty => default;

    /// <summary>Every purpose of the notice's section 4.</summary>
    public static PurposeSet All => new(s_all);

    public bool IsEmpty => Bits == 0;

    public bool Contains(Purpose purpose) => (Bits & Bit(purpose)) != 0;

    public PurposeSet With(Purpose purpose) => new(Bits | Bit(purpose));

    public PurposeSet Union(PurposeSet other) => new(Bits | other.Bits);

    public PurposeSet Except(PurposeSet other) => new(Bits & ~other.Bits);

    public PurposeSet Complement() => new(s_all & ~Bits);

    public static PurposeSet Of(IEnumerable<Purpose> purposes)
    {
        ArgumentNullException.ThrowIfNull(purposes);
        var set = Empty;
        foreach (var purpose in purposes)
        {
            set = set.With(purpose);
        }
        return set;
    }

    /// <summary>The purposes in the notice's order.</summary>
    public IEnumerable<Purpose> Purposes()
    {
        foreach (var purpose in Enum.GetValues<Purpose>())
        {
            if (Contains(purpose))
            {
                yield return purpose;
            }
        }
    }

    /// <summary>The purposes' stable ids in the notice's order (e.g. <c>personalization</c>).</summary>
    public string[] Ids() => [.. Purposes().Select(p => p.Id())];

    public override string ToString() => string.Join(',', Ids());

    private static uint Bit(Purpose purpose) => 1u << (int)purpose;
}
