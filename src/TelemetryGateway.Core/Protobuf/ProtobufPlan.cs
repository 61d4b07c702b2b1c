using Google.Protobuf.Reflection;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>What the rewriter does with one field of one message type, for one purpose.</summary>
internal enum ProtobufAction : byte
{
    /// <summary>Not written (the rule says drop, or the policy does not name the field).</summary>
    Drop,
    /// <summary>Copied as it came in: a scalar, string, bytes, or a packed run as a unit.</summary>
    Keep,
    /// <summary>A message field (or each element of a repeated one) rewritten by <see cref="PlannedField.Nested"/>.</summary>
    Message,
    /// <summary>A scalar transform (<see cref="PlannedField.Transform"/>): the shared ones, plus the few of protobuf's numeric fields.</summary>
    Transform,
}

/// <summary>The compiled rule of one field: its action, the transform's parameters and, for messages, the nested plan.</summary>
internal readonly record struct PlannedField(
    ProtobufAction Action, TransformParameters Parameters, ProtobufPlan? Nested, bool IsGeography, TransformKind Transform = TransformKind.Keep);

/// <summary>
/// One purpose's rules for one protobuf message type, with every policy name resolved to its field number when the
/// policy is compiled: at run time a field is found by number, never by name. Immutable; shared by every thread.
/// </summary>
internal sealed class ProtobufPlan
{
    // The keys of IP-derived geography that generalize-geo keeps, the same as for JSON objects.
    private static readonly HashSet<string> s_generalGeoNames = new(StringComparer.Ordinal)
    {
        "country", "region", "country_code", "region_code", "countryCode", "regionCode",
        "subdivision", "subdivision_code", "region_iso_code", "country_iso_code",
    };

    private ProtobufPlan(ProtobufSchema schema, PlannedField[] fields)
    {
        Schema = schema;
        Fields = fields;
    }

    public ProtobufSchema Schema { get; }

    /// <summary>Per field of <see cref="Schema"/>, at the same index, what this purpose does with it.</summary>
    public PlannedField[] Fields { get; }

    public MessageDescriptor Descriptor => Schema.Descriptor;

    /// <summary>A plan that keeps every field the schema defines; nested messages take their own schema's <see cref="ProtobufSchema.KeepAll"/>.</summary>
    internal static ProtobufPlan KeepingAll(ProtobufSchema schema) => new(schema, Array.ConvertAll(schema.Fields, f =>
        new PlannedField(f.Shape == FieldShape.Message ? ProtobufAction.Message : ProtobufAction.Keep, TransformParameters.Default, null, false)));

    /// <summary>
    /// Compiles the rules of <paramref name="fields"/> (the same <c>"fields"</c> syntax the JSON streams use) against
    /// <paramref name="descriptor"/>. Every problem goes to <paramref name="error"/> with its JSON path, which starts at
    /// <paramref name="path"/> (the path of the <c>"fields"</c> object); returns null when there was any.
    /// </summary>
    public static ProtobufPlan? Compile(MessageDescriptor descriptor, FieldSet fields, string path, Action<string, string> error)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(error);
        return Compile(ProtobufSchema.For(descriptor), fields, path, error);
    }

    private static ProtobufPlan? Compile(ProtobufSchema schema, FieldSet fields, string path, Action<string, string> error)
    {
        var planned = new PlannedField[schema.Fields.Length];
        var ok = true;
        foreach (var rule in fields.Rules)
        {
            var fieldPath = Child(path, rule.Name);
            var index = Array.FindIndex(schema.Fields, f => f.Name == rule.Name);
            if (index < 0)
            {
                error(fieldPath, $"message {schema.Descriptor.FullName} has no field '{rule.Name}' (proto field names: {string.Join(", ", schema.Fields.Select(f => f.Name))})");
                ok = false;
                continue;
            }
            var field = schema.Fields[index];
            if (TryPlan(field, rule, fieldPath, error, out var plannedField))
            {
                planned[index] = plannedField;
            }
            else
            {
                ok = false;
            }
        }
        return ok ? new ProtobufPlan(schema, planned) : null;
    }

    private static bool TryPlan(SchemaField field, FieldRule rule, string path, Action<string, string> error, out PlannedField planned)
    {
        planned = default;
        var isMessage = field.Shape == FieldShape.Message;
        if (field.Shape == FieldShape.Group)
        {
            error(path, $"field '{field.Name}' is a group ({field.Describe()}); groups are not supported");
            return false;
        }
        if (rule.Fields is not null)
        {
            if (!isMessage)
            {
                error(Child(path, "fields"), $"'fields' applies to message fields; '{field.Name}' is {field.Describe()}");
                return false;
            }
            var nested = Compile(field.Message!, rule.Fields, Child(path, "fields"), error);
            planned = new PlannedField(ProtobufAction.Message, rule.Parameters, nested, false);
            return nested is not null;
        }
        var transform = rule.Transform;
        switch (transform)
        {
            case TransformKind.Drop:
                planned = new PlannedField(ProtobufAction.Drop, rule.Parameters, null, false);
                return true;
            case TransformKind.Keep:
                planned = new PlannedField(isMessage ? ProtobufAction.Message : ProtobufAction.Keep, rule.Parameters, null, false);
                return true;
            case TransformKind.GeneralizeGeo when isMessage:
                planned = new PlannedField(ProtobufAction.Message, rule.Parameters, GeographyPlan(field.Message!), true);
                return true;
            case TransformKind.Pseudonymize when field.Shape is FieldShape.String or FieldShape.Bytes || IsWideInteger(field.Type):
                planned = new PlannedField(ProtobufAction.Transform, rule.Parameters, null, false, transform);
                return true;
            case TransformKind.Pseudonymize when field.Shape is FieldShape.Varint or FieldShape.Fixed32:
                error(path, $"pseudonymize needs a string, bytes or 64-bit integer field to hold a pseudonym; '{field.Name}' is {field.Describe()}");
                return false;
            case TransformKind.CoarsenCoordinates when field.Type is FieldType.Double or FieldType.Float or FieldType.String:
                planned = new PlannedField(ProtobufAction.Transform, rule.Parameters, null, false, transform);
                return true;
            case TransformKind.TruncateIp when field.Type == FieldType.String:
                planned = new PlannedField(ProtobufAction.Transform, rule.Parameters, null, false, transform);
                return true;
            case TransformKind.RedactText when field.Type == FieldType.String:
                planned = new PlannedField(ProtobufAction.Transform, rule.Parameters, null, false, transform);
                return true;
            case TransformKind.Geohash when field.Type == FieldType.String:
                planned = new PlannedField(ProtobufAction.Transform, rule.Parameters, null, false, transform);
                return true;
        }
        error(path, $"transform '{transform.Id()}' does not apply to '{field.Name}', which is {field.Describe()} (it takes {Accepts(transform)})");
        return false;
    }

    private static string Accepts(TransformKind transform) => transform switch
    {
        TransformKind.Pseudonymize => "string, bytes or 64-bit integer fields",
        TransformKind.CoarsenCoordinates => "double, float or \"lat,lon\" string fields",
        TransformKind.GeneralizeGeo => "message fields",
        _ => "string fields",
    };

    private static bool IsWideInteger(FieldType type) =>
        type is FieldType.Int64 or FieldType.UInt64 or FieldType.SInt64 or FieldType.Fixed64 or FieldType.SFixed64;

    /// <summary>Generalized geography: of the nested message, only the scalar fields named like country and region.</summary>
    private static ProtobufPlan GeographyPlan(ProtobufSchema schema) => new(schema, Array.ConvertAll(schema.Fields, f =>
        new PlannedField(
            f.Shape != FieldShape.Message && s_generalGeoNames.Contains(f.Name) ? ProtobufAction.Keep : ProtobufAction.Drop,
            TransformParameters.Default, null, false)));

    private static string Child(string path, string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            ? $"{path}.{name}"
            : $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";
}
