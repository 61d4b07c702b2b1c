using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
        PropertyNameJson = [(byte)'"', .. JsonEncodedText.Encode(name).EncodedUtf8Bytes, (byte)'"', (byte)':'];
        Transform = transform;
        Parameters = parameters;
        Fields = fields;
    }

    public string Name { get; }
    internal byte[] NameUtf8 { get; }

    /// <summary>The name as the output writes it, escaped, quoted and followed by its colon: <c>"name":</c>.</summary>
    internal byte[] PropertyNameJson { get; }
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
public sealed class FieldSet : IFormatRules
{
    public const int MaxFields = 64;

    // A JSON purpose's rules are its field set itself.
    FieldSet? IFormatRules.Fields => this;

    private readonly FieldRule[] _rules;

    private readonly uint[] _signatures;

    // The rules' UTF-8 names, one indirection closer than through the rules.
    private readonly byte[][] _names;

    internal FieldSet(FieldRule[] rules)
    {
        _rules = rules;
        _signatures = Array.ConvertAll(rules, r => Signature(r.NameUtf8));
        _names = Array.ConvertAll(rules, r => r.NameUtf8);
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
            if (signatures[i] == signature && EqualOfSameLength(utf8Name, _names[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// Compares names whose signatures are equal, so their lengths are too (below 64 KiB). Short names, the usual
    /// kind, are compared in two overlapping word reads each, without a call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool EqualOfSameLength(ReadOnlySpan<byte> name, ReadOnlySpan<byte> ruleName)
    {
        var length = name.Length;
        if (length != ruleName.Length)
        {
            return false;
        }
        if (length >= sizeof(ulong))
        {
            return length <= 2 * sizeof(ulong)
                ? MemoryMarshal.Read<ulong>(name) == MemoryMarshal.Read<ulong>(ruleName)
                    && MemoryMarshal.Read<ulong>(name[(length - sizeof(ulong))..]) == MemoryMarshal.Read<ulong>(ruleName[(length - sizeof(ulong))..])
                : name.SequenceEqual(ruleName);
        }
        if (length >= sizeof(uint))
        {
            return MemoryMarshal.Read<uint>(name) == MemoryMarshal.Read<uint>(ruleName)
                && MemoryMarshal.Read<uint>(name[(length - sizeof(uint))..]) == MemoryMarshal.Read<uint>(ruleName[(length - sizeof(uint))..]);
        }
        // The signature holds the first and last byte; only a three-byte name has one more.
        return length < 3 || name[1] == ruleName[1];
    }

    // Inlined: IndexOf runs for every property name of a message, for every purpose.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Signature(ReadOnlySpan<byte> name) =>
        name.IsEmpty ? 0 : (uint)Math.Min(name.Length, 0xFFFF) << 16 | (uint)name[0] << 8 | name[^1];

    internal FieldRule this[int index] => _rules[index];
}
