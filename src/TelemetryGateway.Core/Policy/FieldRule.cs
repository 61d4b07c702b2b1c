using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// The compiled rule for one named field: a transform with its parameters, or (for an object, or an array
/// of objects) the rules of its own fields. Immutable; shared by every thread.
/// </summary>
public sealed class FieldRule
{
    internal FieldRule(string name, TransformKind transform, TransformParameters parameters, FieldSet? fields)
    {
        Name = name;
        NameUtf8 = Encoding.UTF8.GetBytes(name);
        EncodedName = JsonEncodedText.Encode(name);
        Transform = transform;
        Parameters = parameters;
        Fields = fields;
    }

    public string Name { get; }
    internal byte[] NameUtf8 { get; }
    internal JsonEncodedText EncodedName { get; }
    public TransformKind Transform { get; }
    public TransformParameters Parameters { get; }

    /// <summary>Rules for the fields of an object value; null for a plain transform.</summary>
    public FieldSet? Fields { get; }
}

/// <summary>Parameters of the parameterised transforms, with the privacy model's defaults.</summary>
public readonly record struct TransformParameters(int Ipv4PrefixLength, int Ipv6PrefixLength, int Decimals, int GeohashLength)
{
    public static TransformParameters Default { get; } = new(24, 48, 1, 4);
}

/// <summary>
/// The allowlist of fields for one object level. Names are compared as unescaped UTF-8.
/// At most <see cref="MaxFields"/> fields, so that the minimizer can track duplicates in one 64-bit mask.
/// </summary>
public sealed class FieldSet
{
    public const int MaxFields = 64;
    private readonly FieldRule[] _rules;

    private readonly uint[] _signatures;

    internal FieldSet(FieldRule[] rules)
    {
        _rules = rules;
        _signatures = Array.ConvertAll(rules, r => Signature(r.NameUtf8));
    }

    public IReadOnlyList<FieldRule> Rules => _rules;

    /// <summary>Index of the rule named <paramref name="utf8Name"/>, or -1: an unnamed field is dropped.</summary>
    public int IndexOf(ReadOnlySpan<byte> utf8Name)
    {
        // Length and first and last byte rule out almost every non-match with one integer compare.
        var signature = Signature(utf8Name);
        var signatures = _signatures;
        for (var i = 0; i < signatures.Length; i++)
        {
            if (signatures[i] == signature && utf8Name.SequenceEqual(_rules[i].NameUtf8))
            {
                return i;
            }
        }
        return -1;
    }

    private static uint Signature(ReadOnlySpan<byte> name) =>
        name.IsEmpty ? 0 : (uint)Math.Min(name.Length, 0xFFFF) << 16 | (uint)name[0] << 8 | name[^1];

    internal FieldRule this[int index] => _rules[index];
}
