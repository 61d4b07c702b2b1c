using Google.Protobuf.Reflection;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>How a field's values are encoded, which is what the rewriter needs to know of its declared type.</summary>
internal enum FieldShape : byte
{
    Varint,
    Fixed64,
    Fixed32,
    String,
    Bytes,
    Message,
    /// <summary>A proto2 group: its wire types are not accepted, so any occurrence quarantines the message.</summary>
    Group,
}

/// <summary>One field of a <see cref="ProtobufSchema"/>: number, name, shape and (for messages) the nested schema.</summary>
internal sealed class SchemaField
{
    public SchemaField(FieldDescriptor descriptor)
    {
        Descriptor = descriptor;
        Number = descriptor.FieldNumber;
        Name = descriptor.Name;
        Type = descriptor.FieldType;
        Repeated = descriptor.IsRepeated;
        Shape = ShapeOf(descriptor.FieldType);
        WireType = Shape switch
        {
            FieldShape.Varint => WireType.Varint,
            FieldShape.Fixed64 => WireType.Fixed64,
            FieldShape.Fixed32 => WireType.Fixed32,
            FieldShape.Group => WireType.StartGroup,
            _ => WireType.LengthDelimited,
        };
        // Repeated scalars may arrive packed (one length-delimited run) or one element per record; parsers accept both.
        Packable = Repeated && Shape is FieldShape.Varint or FieldShape.Fixed64 or FieldShape.Fixed32;

        // What a string value of this field is, by its name: inside a person's or a Wi-Fi network's message or not.
        var name = System.Text.Encoding.UTF8.GetBytes(Name);
        for (var context = 0; context < _learnedAs.Length; context++)
        {
            _learnedAs[context] = Learning.ValueNames.Classify(name, (context & 1) != 0, (context & 2) != 0, out var opensContact, out var opensWifi);
            OpensContact = opensContact;
            OpensWifi = opensWifi;
        }
    }

    private readonly Learning.ValueName[] _learnedAs = new Learning.ValueName[4];

    public FieldDescriptor Descriptor { get; }
    public int Number { get; }
    public string Name { get; }
    public FieldType Type { get; }
    public bool Repeated { get; }
    public bool Packable { get; }
    public FieldShape Shape { get; }
    public WireType WireType { get; }

    /// <summary>A message under this field is about a person (owner, installer, contact): its names and streets are learned.</summary>
    public bool OpensContact { get; }

    /// <summary>A message under this field describes a Wi-Fi network (<c>wifi</c>, <c>sta</c>, <c>ap</c>): its secrets are learned.</summary>
    public bool OpensWifi { get; }

    /// <summary>What a string value of this field is learned as (<see cref="Learning.ValueNames"/>), in a person's or a Wi-Fi network's message or not.</summary>
    public Learning.ValueName LearnedAs(bool inContact, bool inWifi) => _learnedAs[(inContact ? 1 : 0) | (inWifi ? 2 : 0)];

    /// <summary>The nested message's schema, for message fields (set once, while the schema graph is built).</summary>
    public ProtobufSchema? Message { get; internal set; }

    public string Describe() => (Repeated ? "repeated " : "") + Type switch
    {
        FieldType.Message => Descriptor.MessageType.FullName,
        FieldType.Enum => Descriptor.EnumType.FullName,
        _ => Type.ToString().ToLowerInvariant(),
    };

    private static FieldShape ShapeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => FieldShape.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => FieldShape.Fixed32,
        FieldType.String => FieldShape.String,
        FieldType.Bytes => FieldShape.Bytes,
        FieldType.Message => FieldShape.Message,
        FieldType.Group => FieldShape.Group,
        _ => FieldShape.Varint,
    };
}

/// <summary>
/// The wire-level view of one message type, shared by every purpose and every policy: its fields by number.
/// Built once per descriptor (recursive message types included) and immutable afterwards.
/// </summary>
internal sealed class ProtobufSchema
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<MessageDescriptor, ProtobufSchema> s_schemas = [];

    private int[] _numbers = [];

    private ProtobufSchema(MessageDescriptor descriptor) => Descriptor = descriptor;

    public MessageDescriptor Descriptor { get; }

    /// <summary>The fields, in ascending field number.</summary>
    public SchemaField[] Fields { get; private set; } = [];

    /// <summary>The plan that keeps every known field (and, in nested messages, theirs): what <c>keep</c> on a message field means.</summary>
    public ProtobufPlan KeepAll { get; private set; } = null!;

    /// <summary>The schema of <paramref name="descriptor"/>, built on first use.</summary>
    public static ProtobufSchema For(MessageDescriptor descriptor)
    {
        lock (s_lock)
        {
            return Build(descriptor);
        }
    }

    private static ProtobufSchema Build(MessageDescriptor descriptor)
    {
        if (s_schemas.TryGetValue(descriptor, out var existing))
        {
            return existing;
        }
        // Registered before its fields, so that a message type that contains itself finds its own schema.
        var schema = new ProtobufSchema(descriptor);
        s_schemas.Add(descriptor, schema);
        var fields = descriptor.Fields.InFieldNumberOrder().Select(f => new SchemaField(f)).ToArray();
        foreach (var field in fields)
        {
            if (field.Shape == FieldShape.Message)
            {
                field.Message = Build(field.Descriptor.MessageType);
            }
        }
        schema.Fields = fields;
        schema._numbers = Array.ConvertAll(fields, f => f.Number);
        schema.KeepAll = ProtobufPlan.KeepingAll(schema);
        return schema;
    }

    /// <summary>Index in <see cref="Fields"/> of field number <paramref name="number"/>, or -1 for a field the schema does not define.</summary>
    public int IndexOf(int number)
    {
        var numbers = _numbers;
        // Field numbers are usually 1..n without gaps: the direct guess is right almost always.
        var guess = number - 1;
        if ((uint)guess < (uint)numbers.Length && numbers[guess] == number)
        {
            return guess;
        }
        var index = Array.BinarySearch(numbers, number);
        return index < 0 ? -1 : index;
    }
}
