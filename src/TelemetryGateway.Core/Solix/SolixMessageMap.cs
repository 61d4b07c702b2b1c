using System.Collections.Frozen;
using System.Globalization;

namespace TelemetryGateway.Core.Solix;

/// <summary>What a field carries, as far as privacy goes: decided by its names in the message map.</summary>
// Ordered by sensitivity: the most sensitive reading of a field wins, and every kind from WifiName on is never forwarded.
internal enum SolixFieldKind : byte
{
    /// <summary>A measurement or setting.</summary>
    Plain,
    /// <summary>A serial number (<c>*_sn</c>): clear for service purposes, same-length pseudonym otherwise.</summary>
    Serial,
    /// <summary>A Wi-Fi name: never forwarded.</summary>
    WifiName,
    /// <summary>A MAC address (<c>*_mac</c>): never forwarded.</summary>
    Mac,
    /// <summary>An IP address: never forwarded in full, and a TLV field cannot be truncated in place, so dropped.</summary>
    IpAddress,
    /// <summary>Coordinates: a TLV field cannot be coarsened in place, so dropped.</summary>
    Location,
    /// <summary>A password or key: never leaves the gateway.</summary>
    Secret,
}

/// <summary>One field of a message type of one model.</summary>
internal sealed class SolixMappedField(byte id, string[] names, int[] nameIds, SolixFieldKind kind, SolixSerialSlot[] serialSlots)
{
    public byte Id { get; } = id;
    public string[] Names { get; } = names;

    /// <summary>Ids of <see cref="Names"/> in <see cref="SolixMessageMap.NameId"/>, for rule look-ups without strings.</summary>
    public int[] NameIds { get; } = nameIds;

    public SolixFieldKind Kind { get; } = kind;

    /// <summary>Where a type-06 field holds serial strings (offsets within the value, after the type byte).</summary>
    public SolixSerialSlot[] SerialSlots { get; } = serialSlots;

    /// <summary>True when the field must never leave the gateway, whatever the purpose.</summary>
    public bool IsNeverForwarded => Kind >= SolixFieldKind.WifiName;
}

/// <summary>A serial inside a type-06 value: at <see cref="Offset"/>, <see cref="Length"/> bytes, or length-prefixed when 0.</summary>
internal readonly record struct SolixSerialSlot(int Offset, int Length);

/// <summary>The fields of one message type of one model, indexed by field byte.</summary>
internal sealed class SolixMessageLayout(string model, ushort type, SolixMappedField?[] fields)
{
    public string Model { get; } = model;
    public ushort Type { get; } = type;

    /// <summary>256 entries; null for a field byte the map does not describe.</summary>
    public SolixMappedField?[] Fields { get; } = fields;
}

/// <summary>
/// The public SOLIX message maps: per product code (model) and message type, the fields with their names, and from
/// the names what each field carries. Built once from <see cref="MapData"/>; looked up per message without allocating.
/// </summary>
internal static partial class SolixMessageMap
{
    private static readonly FrozenDictionary<(ulong Model, ushort Type), SolixMessageLayout> s_layouts;
    private static readonly FrozenDictionary<ushort, SolixFieldKind[]> s_kindsByType;
    private static readonly FrozenDictionary<string, int> s_nameIds;
    private static readonly FrozenDictionary<ushort, SolixMappedField[]> s_fieldsByType;

    static SolixMessageMap()
    {
        var layouts = new Dictionary<(ulong, ushort), SolixMessageLayout>();
        var kinds = new Dictionary<ushort, SolixFieldKind[]>();
        var nameIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var fieldsByType = new Dictionary<ushort, List<SolixMappedField>>();
        foreach (var rawLine in MapData.Split('\n'))
        {
            var parts = rawLine.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length < 2)
            {
                continue;
            }
            var model = parts[0];
            var type = ushort.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var fields = new SolixMappedField?[256];
            var typeKinds = kinds.TryGetValue(type, out var existing) ? existing : kinds[type] = new SolixFieldKind[256];
            if (!fieldsByType.TryGetValue(type, out var typeFields))
            {
                fieldsByType[type] = typeFields = [];
            }
            for (var p = 2; p < parts.Length; p++)
            {
                var field = ParseField(parts[p], nameIds);
                fields[field.Id] = field;
                typeFields.Add(field);
                // For a model the map does not know, a field byte is as sensitive as on any model that has it.
                if (field.Kind > typeKinds[field.Id])
                {
                    typeKinds[field.Id] = field.Kind;
                }
            }
            layouts[(ModelKey(System.Text.Encoding.ASCII.GetBytes(model)), type)] = new SolixMessageLayout(model, type, fields);
        }
        s_layouts = layouts.ToFrozenDictionary();
        s_kindsByType = kinds.ToFrozenDictionary();
        s_nameIds = nameIds.ToFrozenDictionary(StringComparer.Ordinal);
        s_fieldsByType = fieldsByType.ToFrozenDictionary(pair => pair.Key, pair => pair.Value.ToArray());
        NameCount = nameIds.Count;
    }

    /// <summary>How many distinct field names the map has (the size of a name set).</summary>
    public static int NameCount { get; }

    /// <summary>The layout of <paramref name="type"/> for the model <paramref name="productCode"/> (UTF-8), or null.</summary>
    public static SolixMessageLayout? Find(ReadOnlySpan<byte> productCode, ushort type)
    {
        if (productCode.IsEmpty || productCode.Length > sizeof(ulong))
        {
            return null;
        }
        return s_layouts.TryGetValue((ModelKey(productCode), type), out var layout) ? layout : null;
    }

    /// <summary>
    /// The most sensitive kind any model gives field <paramref name="fieldId"/> of <paramref name="type"/>: what a
    /// field of an unknown model is treated as.
    /// </summary>
    public static SolixFieldKind KindOnAnyModel(ushort type, byte fieldId) =>
        s_kindsByType.TryGetValue(type, out var kinds) ? kinds[fieldId] : SolixFieldKind.Plain;

    /// <summary>True when some model has message type <paramref name="type"/>.</summary>
    public static bool HasType(ushort type) => s_fieldsByType.ContainsKey(type);

    /// <summary>The fields of <paramref name="type"/> on every model that has it (for policy checks).</summary>
    public static IReadOnlyList<SolixMappedField> FieldsOfType(ushort type) =>
        s_fieldsByType.TryGetValue(type, out var fields) ? fields : [];

    /// <summary>Every layout of the map (one per model and message type).</summary>
    public static IEnumerable<SolixMessageLayout> AllLayouts => s_layouts.Values;

    /// <summary>Every field of every model and message type (for policy checks).</summary>
    public static IEnumerable<SolixMappedField> AllFields => s_fieldsByType.Values.SelectMany(fields => fields);

    /// <summary>The id of a field name, or -1 when no field of the map has it.</summary>
    public static int NameId(string name) => s_nameIds.TryGetValue(name, out var id) ? id : -1;

    /// <summary>What a field with these names carries: the most sensitive reading of any of them.</summary>
    /// <remarks>
    /// Decided on the words of the name (split at <c>_</c>), so a field a newer map adds is treated by what it is called:
    /// <c>*_sn</c> a serial; <c>*_mac</c> a MAC; <c>wifi_name</c>, <c>*ssid*</c> a Wi-Fi name; passwords and keys a
    /// secret; <c>ip</c> an IP address; coordinates a location.
    /// </remarks>
    public static SolixFieldKind KindOf(IEnumerable<string> names)
    {
        var kind = SolixFieldKind.Plain;
        foreach (var name in names)
        {
            var nameKind = KindOfName(name.TrimEnd('?').ToLowerInvariant().Split('_'));
            if (nameKind > kind)
            {
                kind = nameKind;
            }
        }
        return kind;
    }

    private static SolixFieldKind KindOfName(string[] words)
    {
        bool Has(params string[] candidates) => words.Any(w => candidates.Contains(w));
        if (Has("password", "passwd", "pwd", "psk", "passphrase", "secret", "token"))
        {
            return SolixFieldKind.Secret;
        }
        if (Has("ssid", "bssid") || (Has("wifi", "wlan") && Has("name", "ssid")))
        {
            return SolixFieldKind.WifiName;
        }
        if (Has("mac", "bssid"))
        {
            return SolixFieldKind.Mac;
        }
        if (Has("ip", "ipv4", "ipv6"))
        {
            return SolixFieldKind.IpAddress;
        }
        if (Has("latitude", "longitude", "lat", "lon", "lng", "gps", "coordinates", "geolocation"))
        {
            return SolixFieldKind.Location;
        }
        if (Has("sn", "serial"))
        {
            return SolixFieldKind.Serial;
        }
        return SolixFieldKind.Plain;
    }

    private static SolixMappedField ParseField(string text, Dictionary<string, int> nameIds)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var slots = Array.Empty<SolixSerialSlot>();
        if (at >= 0)
        {
            slots = [.. text[(at + 1)..].Split(',').Select(slot =>
            {
                var colon = slot.IndexOf(':', StringComparison.Ordinal);
                return new SolixSerialSlot(
                    int.Parse(slot[..colon], CultureInfo.InvariantCulture), int.Parse(slot[(colon + 1)..], CultureInfo.InvariantCulture));
            })];
            text = text[..at];
        }
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        var id = byte.Parse(text[..equals], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var names = text[(equals + 1)..].Split('|');
        var ids = new int[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            if (!nameIds.TryGetValue(names[i], out ids[i]))
            {
                ids[i] = nameIds[names[i]] = nameIds.Count;
            }
        }
        // A type-06 field that names serials at offsets is a mixed value, not a serial string: its slots say where.
        var kind = KindOf(slots.Length > 0 ? names.Where(n => KindOf([n]) != SolixFieldKind.Serial) : names);
        return new SolixMappedField(id, names, ids, kind, slots);
    }

    /// <summary>A product code (at most 8 ASCII bytes) packed into a number, so a look-up needs no string.</summary>
    private static ulong ModelKey(ReadOnlySpan<byte> productCode)
    {
        ulong key = 0;
        foreach (var b in productCode)
        {
            key = (key << 8) | b;
        }
        return key;
    }
}
