using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Text.Unicode;
using TelemetryGateway.Core.Aggregation;

namespace TelemetryGateway.Core.Solix;

/// <summary>
/// Aggregates of SOLIX streams: a metric or group names a field of the binary as the message map names it
/// (<c>battery_soc</c>, <c>temperature</c>, <c>sw_version</c>), whatever the model and message type: a message is read
/// through its model's layout of its type (the payload's <c>pn</c>), so <c>battery_soc</c> is field A3 of an A17C0's
/// 0405 message and AD of an A17C1's. Only fields of one value are read (a field of several names packs several), and
/// never a serial, Wi-Fi name, MAC, IP address, location or secret. Metrics are the numeric types (01 uint8, 02 int16,
/// 03 uint32, 05 float32, little-endian); groups are strings (00, trailing NULs cut) or integers (01, 02, 03).
/// </summary>
internal static class SolixAggregateFields
{
    private const byte Text = 0x00;
    private const byte UInt8 = 0x01;
    private const byte Int16 = 0x02;
    private const byte UInt32 = 0x03;
    private const byte Float32 = 0x05;

    /// <summary>Null when <paramref name="name"/> is a single-valued field of the map usable as <paramref name="use"/>; else why not.</summary>
    public static string? Check(string name, AggregateFieldUse use)
    {
        var id = SolixMessageMap.NameId(name);
        var fields = id < 0 ? [] : SolixMessageMap.AllFields.Where(f => Array.IndexOf(f.NameIds, id) >= 0).ToList();
        if (fields.Count == 0)
        {
            return $"'{name}' is not a field name of the SOLIX message map";
        }
        // A mixed field that holds a serial at an offset is Plain by its kind, but still carries the serial.
        if (fields.FirstOrDefault(f => f.Kind != SolixFieldKind.Plain || f.SerialSlots.Length > 0) is { } personal)
        {
            var what = personal.Kind switch
            {
                SolixFieldKind.WifiName => "Wi-Fi name",
                SolixFieldKind.Mac => "MAC address",
                SolixFieldKind.IpAddress => "IP address",
                SolixFieldKind.Location => "location",
                SolixFieldKind.Secret => "secret",
                _ => "serial",
            };
            return $"'{name}' is in a field that carries a {what} on some model: it identifies a device or its owner";
        }
        if (!fields.Any(f => f.NameIds.Length == 1))
        {
            return $"'{name}' is packed with other values in one field on every model; an aggregate reads fields of one value";
        }
        return null;
    }

    /// <summary>
    /// Per layout of the map that has any of <paramref name="metrics"/> or <paramref name="groups"/> (all checked), per
    /// field byte, the metric it is (m), the group (-2 - g) or neither (-1): one array look-up per field of a message.
    /// Only fields of one value, plain and without a serial inside, are placed.
    /// </summary>
    public static SolixAggregatePlan Plan(string[] metrics, string[] groups)
    {
        var metricIds = Array.ConvertAll(metrics, SolixMessageMap.NameId);
        var groupIds = Array.ConvertAll(groups, SolixMessageMap.NameId);
        var slots = new Dictionary<SolixMessageLayout, short[]>();
        foreach (var layout in SolixMessageMap.AllLayouts)
        {
            short[]? byField = null;
            foreach (var mapped in layout.Fields)
            {
                if (mapped is not { NameIds.Length: 1, Kind: SolixFieldKind.Plain, SerialSlots.Length: 0 })
                {
                    continue;
                }
                var metric = Array.IndexOf(metricIds, mapped.NameIds[0]);
                var group = Array.IndexOf(groupIds, mapped.NameIds[0]);
                if (metric >= 0 || group >= 0)
                {
                    byField ??= [.. Enumerable.Repeat((short)-1, 256)];
                    byField[mapped.Id] = (short)(metric >= 0 ? metric : -2 - group);
                }
            }
            if (byField is not null)
            {
                slots.Add(layout, byField);
            }
        }
        return new SolixAggregatePlan(slots.ToFrozenDictionary());
    }

    /// <summary>Reads the planned fields of a parsed binary (<paramref name="message"/> over <paramref name="binary"/>) of model <paramref name="productCode"/>.</summary>
    public static void Read(ReadOnlySpan<byte> binary, SolixTlvMessage message, ReadOnlySpan<byte> productCode, SolixAggregatePlan plan, AggregateScan scan)
    {
        // A model the map does not know has no names for its fields, and a layout without the named fields has nothing
        // to read: the message is not folded.
        if (SolixMessageMap.Find(productCode, message.Type) is not { } layout || !plan.Slots.TryGetValue(layout, out var slots))
        {
            return;
        }
        foreach (var field in message.Fields)
        {
            var slot = slots[field.Id];
            if (slot == -1 || field.ValueLength < 2)
            {
                continue;
            }
            var value = binary.Slice(field.ValueStart, field.ValueLength);
            if (slot >= 0)
            {
                if (TryNumber(value, out var number))
                {
                    scan.SetMetric(slot, number);
                }
                continue;
            }
            var group = -2 - slot;
            if (value[0] == Text)
            {
                var text = value[1..].TrimEnd((byte)0);
                if (Utf8.IsValid(text))
                {
                    scan.SetGroup(group, text);
                }
            }
            else if (value[0] != Float32 && TryNumber(value, out var number))
            {
                scan.SetGroup(group, (long)number);
            }
        }
    }

    /// <summary>A numeric value (type byte first) as a number; false for the other types or a length that does not fit.</summary>
    private static bool TryNumber(ReadOnlySpan<byte> value, out double number)
    {
        number = 0;
        var bytes = value[1..];
        switch (value[0])
        {
            case UInt8 when bytes.Length == 1:
                number = bytes[0];
                return true;
            case Int16 when bytes.Length == 2:
                number = BinaryPrimitives.ReadInt16LittleEndian(bytes);
                return true;
            case UInt32 when bytes.Length is >= 1 and <= 4:
                uint wide = 0;
                for (var i = bytes.Length - 1; i >= 0; i--)
                {
                    wide = (wide << 8) | bytes[i];
                }
                number = wide;
                return true;
            case Float32 when bytes.Length == 4:
                number = BinaryPrimitives.ReadSingleLittleEndian(bytes);
                return double.IsFinite(number);
            default:
                return false;
        }
    }
}

/// <summary>A SOLIX stream's aggregate fields: per layout that has any of them, the field bytes' metric or group slots.</summary>
internal sealed record SolixAggregatePlan(FrozenDictionary<SolixMessageLayout, short[]> Slots);
