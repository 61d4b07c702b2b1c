using System.Buffers.Binary;
using System.Text.Unicode;
using Google.Protobuf.Reflection;
using TelemetryGateway.Core.Aggregation;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// The fields of one message level an aggregate reads: per schema field, the metric or group of the stream's
/// <see cref="AggregateFieldSet"/> it is (-1: none), and for a message field on a named path, the level below.
/// </summary>
internal sealed class ProtobufAggregateLevel
{
    public ProtobufAggregateLevel(ProtobufSchema schema)
    {
        Schema = schema;
        MetricAt = [.. Enumerable.Repeat(-1, schema.Fields.Length)];
        GroupAt = [.. Enumerable.Repeat(-1, schema.Fields.Length)];
        Nested = new ProtobufAggregateLevel?[schema.Fields.Length];
    }

    public ProtobufSchema Schema { get; }
    public int[] MetricAt { get; }
    public int[] GroupAt { get; }
    public ProtobufAggregateLevel?[] Nested { get; }
}

/// <summary>
/// What a stream's protobuf aggregate fields compile to: the levels to read, and per field what a message that does not
/// carry it says (proto3: a scalar without presence that is absent has its default value, 0, false, the enum's first
/// value, the empty string; a field with presence, <c>optional</c>, that is absent is absent).
/// </summary>
internal sealed record ProtobufAggregatePlan(ProtobufAggregateLevel Root, bool[] MetricDefaultsToZero, byte[]?[] GroupDefaults);

/// <summary>
/// Aggregates of protobuf streams: a metric or group names a field of the stream's message by its policy path (proto
/// field names joined by dots, <c>battery_soc</c>, <c>network.wifi_signal</c>). A metric is a numeric scalar
/// (int32, int64, uint32, uint64, sint32, sint64, fixed32, fixed64, sfixed32, sfixed64, float, double), a group a
/// string, enum (its value's name) or bool; neither repeated. An absent field without presence reads as its default. The message is read once for every aggregate entry of
/// its stream, on the wire format, without allocating; the last occurrence of a field wins, as protobuf parsers do.
/// </summary>
internal static class ProtobufAggregateFields
{
    /// <summary>Null when <paramref name="path"/> names a field of <paramref name="message"/> usable as <paramref name="use"/>; else why not.</summary>
    public static string? Check(MessageDescriptor message, string path, AggregateFieldUse use)
    {
        var field = Resolve(message, path, out var error);
        if (field is null)
        {
            return error;
        }
        if (field.IsRepeated)
        {
            return $"'{path}' is a repeated field; an aggregate reads one value per message";
        }
        var ok = use == AggregateFieldUse.Metric ? IsNumeric(field.FieldType) : field.FieldType is FieldType.String or FieldType.Enum or FieldType.Bool;
        return ok
            ? null
            : use == AggregateFieldUse.Metric
                ? $"'{path}' is a {field.FieldType.ToString().ToLowerInvariant()} field; a metric is a numeric scalar field (int32, int64, uint32, uint64, sint32, sint64, fixed32, fixed64, sfixed32, sfixed64, float, double)"
                : $"'{path}' is a {field.FieldType.ToString().ToLowerInvariant()} field; a group is a string, enum or bool field";
    }

    /// <summary>The plan that reads <paramref name="metrics"/> and <paramref name="groups"/> (all checked) from messages of <paramref name="message"/>.</summary>
    public static ProtobufAggregatePlan Plan(MessageDescriptor message, string[] metrics, string[] groups)
    {
        var metricDefaults = Array.ConvertAll(metrics, path => !Resolve(message, path, out _)!.HasPresence);
        var groupDefaults = Array.ConvertAll(groups, path => Resolve(message, path, out _) is { HasPresence: false } field
            ? System.Text.Encoding.UTF8.GetBytes(field.FieldType switch
            {
                FieldType.Bool => "false",
                FieldType.Enum => field.EnumType.Values[0].Name,
                _ => "",
            })
            : null);
        var root = new ProtobufAggregateLevel(ProtobufSchema.For(message));
        for (var i = 0; i < metrics.Length; i++)
        {
            Place(root, metrics[i]).MetricAt[LeafIndex(root, metrics[i])] = i;
        }
        for (var i = 0; i < groups.Length; i++)
        {
            Place(root, groups[i]).GroupAt[LeafIndex(root, groups[i])] = i;
        }
        return new ProtobufAggregatePlan(root, metricDefaults, groupDefaults);
    }

    /// <summary>Reads the planned fields of <paramref name="message"/>, then gives each absent field without presence its default.</summary>
    public static bool Read(ReadOnlySpan<byte> message, ProtobufAggregatePlan plan, AggregateScan scan, int maxDepth)
    {
        if (!Read(message, plan.Root, scan, maxDepth))
        {
            return false;
        }
        for (var i = 0; i < plan.MetricDefaultsToZero.Length; i++)
        {
            if (plan.MetricDefaultsToZero[i] && double.IsNaN(scan.Metric(i)))
            {
                scan.SetMetric(i, 0);
            }
        }
        for (var i = 0; i < plan.GroupDefaults.Length; i++)
        {
            if (plan.GroupDefaults[i] is { } value && !scan.TryGroup(i, out _))
            {
                scan.SetGroup(i, value);
            }
        }
        return true;
    }

    /// <summary>
    /// Reads the planned fields of <paramref name="message"/> into <paramref name="scan"/>. False when the message is
    /// not well formed where it was read (it was checked at the wire level before; this is a second guard).
    /// </summary>
    private static bool Read(ReadOnlySpan<byte> message, ProtobufAggregateLevel level, AggregateScan scan, int maxDepth)
    {
        var schema = level.Schema;
        var position = 0;
        while (position < message.Length)
        {
            if (!ProtobufWire.TryReadVarint(message, ref position, out var tag) || tag > uint.MaxValue)
            {
                return false;
            }
            var index = schema.IndexOf((int)(tag >> 3));
            var field = index < 0 ? null : schema.Fields[index];
            var wireType = (WireType)(tag & 7);
            // A field whose wire type is not its declared one is not read (a validated input would not carry it).
            var wanted = field is not null && field.WireType == wireType;
            switch (wireType)
            {
                case WireType.Varint:
                    if (!ProtobufWire.TryReadVarint(message, ref position, out var varint))
                    {
                        return false;
                    }
                    if (wanted)
                    {
                        TakeVarint(level, index, field!, varint, scan);
                    }
                    break;
                case WireType.Fixed64:
                    if (message.Length - position < sizeof(ulong))
                    {
                        return false;
                    }
                    if (wanted && level.MetricAt[index] >= 0)
                    {
                        var bits = BinaryPrimitives.ReadUInt64LittleEndian(message[position..]);
                        scan.SetMetric(level.MetricAt[index], field!.Type switch
                        {
                            FieldType.Double => BitConverter.UInt64BitsToDouble(bits),
                            FieldType.SFixed64 => (long)bits,
                            _ => bits,
                        });
                    }
                    position += sizeof(ulong);
                    break;
                case WireType.Fixed32:
                    if (message.Length - position < sizeof(uint))
                    {
                        return false;
                    }
                    if (wanted && level.MetricAt[index] >= 0)
                    {
                        var bits = BinaryPrimitives.ReadUInt32LittleEndian(message[position..]);
                        scan.SetMetric(level.MetricAt[index], field!.Type switch
                        {
                            FieldType.Float => BitConverter.UInt32BitsToSingle(bits),
                            FieldType.SFixed32 => (int)bits,
                            _ => bits,
                        });
                    }
                    position += sizeof(uint);
                    break;
                case WireType.LengthDelimited:
                    if (!ProtobufWire.TryReadVarint(message, ref position, out var length) || length > (ulong)(message.Length - position))
                    {
                        return false;
                    }
                    var value = message.Slice(position, (int)length);
                    position += (int)length;
                    if (!wanted)
                    {
                        break;
                    }
                    if (level.GroupAt[index] >= 0 && field!.Shape == FieldShape.String && Utf8.IsValid(value))
                    {
                        // Invalid UTF-8 is no group value: the message then lacks the group and is not folded.
                        scan.SetGroup(level.GroupAt[index], value);
                    }
                    else if (level.Nested[index] is { } nested && maxDepth > 1 && !Read(value, nested, scan, maxDepth - 1))
                    {
                        return false;
                    }
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private static void TakeVarint(ProtobufAggregateLevel level, int index, SchemaField field, ulong varint, AggregateScan scan)
    {
        if (level.MetricAt[index] is var metric && metric >= 0)
        {
            scan.SetMetric(metric, field.Type switch
            {
                FieldType.Int32 => (int)varint,
                FieldType.Int64 => (long)varint,
                FieldType.UInt32 => (uint)varint,
                FieldType.SInt32 => (int)((uint)varint >> 1) ^ -(int)((uint)varint & 1),
                FieldType.SInt64 => (long)(varint >> 1) ^ -(long)(varint & 1),
                _ => varint,
            });
        }
        else if (level.GroupAt[index] is var group && group >= 0)
        {
            if (field.Type == FieldType.Bool)
            {
                scan.SetGroup(group, varint != 0 ? "true"u8 : "false"u8);
            }
            else if (field.Descriptor.EnumType.FindValueByNumber((int)varint) is { } known)
            {
                scan.SetGroup(group, known.Name);
            }
            else
            {
                // A value the schema does not name (a newer firmware's, say): its number is the group.
                scan.SetGroup(group, (int)varint);
            }
        }
    }

    private static bool IsNumeric(FieldType type) => type is FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64
        or FieldType.SInt32 or FieldType.SInt64 or FieldType.Fixed32 or FieldType.Fixed64 or FieldType.SFixed32 or FieldType.SFixed64
        or FieldType.Float or FieldType.Double;

    private static FieldDescriptor? Resolve(MessageDescriptor message, string path, out string? error)
    {
        error = null;
        var parts = path.Split('.');
        var current = message;
        for (var i = 0; i < parts.Length; i++)
        {
            var field = current.FindFieldByName(parts[i]);
            if (field is null)
            {
                error = $"'{path}': {current.FullName} has no field '{parts[i]}'";
                return null;
            }
            if (i == parts.Length - 1)
            {
                return field;
            }
            if (field.FieldType != FieldType.Message || field.IsRepeated)
            {
                error = $"'{path}': '{parts[i]}' is not a (non-repeated) message field, so it has no field '{parts[i + 1]}'";
                return null;
            }
            current = field.MessageType;
        }
        return null;
    }

    /// <summary>The level that holds the last part of <paramref name="path"/>, made along the way.</summary>
    private static ProtobufAggregateLevel Place(ProtobufAggregateLevel root, string path)
    {
        var parts = path.Split('.');
        var level = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            var index = Array.FindIndex(level.Schema.Fields, f => f.Name == parts[i]);
            level = level.Nested[index] ??= new ProtobufAggregateLevel(level.Schema.Fields[index].Message!);
        }
        return level;
    }

    private static int LeafIndex(ProtobufAggregateLevel root, string path)
    {
        var level = Place(root, path);
        var name = path[(path.LastIndexOf('.') + 1)..];
        return Array.FindIndex(level.Schema.Fields, f => f.Name == name);
    }
}
