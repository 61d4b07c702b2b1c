using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using Google.Protobuf.Reflection;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// The protobuf rewriter: one pass over the wire format of a message writes one output per purpose, each keeping only
/// the fields its <see cref="ProtobufPlan"/> names, transformed as it says. No generated message is built: fields are
/// read by number and wire type, nested messages rewritten recursively (their length prefixes recomputed), packed
/// runs kept or dropped as a unit, fields the schema does not define dropped. The whole message is validated, also
/// where every purpose drops it: truncation, overruns, bad wire types, groups, depth and invalid UTF-8 in string
/// fields quarantine it.
/// </summary>
/// <remarks>One instance per thread; buffers are reused, so after warm-up a message allocates nothing.</remarks>
internal sealed class ProtobufMinimizer : IPayloadMinimizer
{
    private readonly Pseudonymizer _pseudonymizer;
    private readonly ScalarTransformer _scalars;
    private readonly PurposeOutput[] _outputs;
    private readonly ScratchBuffer _contiguous = new(4096);
    private readonly ScratchBuffer _transformed = new(256);

    // An output with learned values removed, written again (made when first needed: most outputs hold none).
    private ProtobufOutputWriter? _scrubbed;

    // The device's id from the topic, and (made at the first redact-text of a message) its pseudonym: free text that
    // mentions the device's own serial gets the pseudonym instead.
    private readonly ScratchBuffer _device = new(64);
    private readonly ScratchBuffer _devicePseudonym = new(64);
    private int _deviceLength;
    private int _devicePseudonymLength;
    private readonly int _capacity;
    private readonly int _depthCapacity;

    // Per nesting level, per purpose slot: the plan of the message being rewritten at that level, or null where the
    // purpose drops it (the message is then only validated).
    private readonly ProtobufPlan?[] _plans;
    private ProtobufSchema? _schema;
    private int _active;
    private int _maxDepth;

    public ProtobufMinimizer(Pseudonymizer pseudonymizer, int maxPurposes, int maxDepth)
    {
        ArgumentNullException.ThrowIfNull(pseudonymizer);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPurposes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDepth);
        _pseudonymizer = pseudonymizer;
        _scalars = new ScalarTransformer(pseudonymizer);
        _capacity = maxPurposes;
        _depthCapacity = maxDepth;
        _plans = new ProtobufPlan?[(maxDepth + 1) * Math.Max(1, maxPurposes)];
        _outputs = new PurposeOutput[maxPurposes];
        for (var i = 0; i < _outputs.Length; i++)
        {
            _outputs[i] = new PurposeOutput(maxDepth + 1);
        }
    }

    /// <summary>Output of purpose slot <paramref name="slot"/> after <see cref="Process"/> returned <see cref="QuarantineReason.None"/>.</summary>
    public ReadOnlyMemory<byte> Output(int slot) => _outputs[slot].Writer.WrittenMemory;

    /// <summary>Learns the values the message revealed by the names of the string fields that carry them (<see cref="ProtobufLearnedValues"/>).</summary>
    public void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth, bool byName)
    {
        if (byName && !payload.IsEmpty && _schema is { } schema)
        {
            // A message of several segments was copied whole into the contiguous buffer by Process.
            var data = payload.IsSingleSegment ? payload.FirstSpan : _contiguous.Slice(checked((int)payload.Length));
            ProtobufLearnedValues.Learn(data, schema, device, store, Math.Min(maxDepth, _maxDepth));
        }
    }

    /// <summary>The fields aggregates name, read from the message <see cref="Process"/> checked (<see cref="ProtobufAggregateFields"/>).</summary>
    public bool ReadAggregateFields(Aggregation.AggregateFieldSet fields, in ReadOnlySequence<byte> payload, int maxDepth, Aggregation.AggregateScan scan)
    {
        if (fields.Plan is not ProtobufAggregatePlan plan || payload.IsEmpty)
        {
            return false;
        }
        // A message of several segments was copied whole into the contiguous buffer by Process.
        var data = payload.IsSingleSegment ? payload.FirstSpan : _contiguous.Slice(checked((int)payload.Length));
        return ProtobufAggregateFields.Read(data, plan, scan, Math.Min(maxDepth, _depthCapacity));
    }

    /// <summary>Removes learned values from the output's string fields, writing the lengths around them anew.</summary>
    public int ScrubLearned(int slot, Learning.LearnedSecretSet values, IBufferWriter<byte> output)
    {
        var message = Output(slot).Span;
        if (_schema is not { } schema || !ProtobufLearnedValues.Contains(message, schema, values, _maxDepth))
        {
            return 0;
        }
        _scrubbed ??= new ProtobufOutputWriter(message.Length + 64, _depthCapacity + 1);
        _scrubbed.Reset();
        var replaced = ProtobufLearnedValues.Scrub(message, schema, values, _scrubbed, _maxDepth);
        output.Write(_scrubbed.WrittenMemory.Span);
        return replaced;
    }

    /// <summary>Every purpose of a protobuf stream has an output: the stream has one message type, which its rules name.</summary>
    public bool HasOutput(int slot) => true;

    /// <summary>Minimizes a whole message for <paramref name="purposes"/> (the <see cref="IPayloadMinimizer"/> view).</summary>
    public QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload)
    {
        Debug.Assert(purposes.Length <= _capacity);
        var schema = purposes.IsEmpty ? null : purposes[0].RulesOf<ProtobufRules>().Plan.Schema;
        _schema = schema;
        _active = purposes.Length;
        _maxDepth = _depthCapacity;
        _deviceLength = Encoding.UTF8.GetBytes(device, _device.Get(Encoding.UTF8.GetMaxByteCount(device.Length)));
        _devicePseudonymLength = 0;
        for (var i = 0; i < purposes.Length; i++)
        {
            var plan = purposes[i].RulesOf<ProtobufRules>().Plan;
            Debug.Assert(plan.Schema == schema, "Every purpose of a stream rewrites the same message type.");
            _plans[i] = plan;
            _outputs[i].Begin();
        }
        return Process(payload);
    }

    /// <summary>Starts a message that fans out to <paramref name="plans"/>, all for the same message type.</summary>
    public void Begin(ReadOnlySpan<ProtobufPlan> plans, int maxDepth)
    {
        if (plans.IsEmpty)
        {
            throw new ArgumentException("Give the message's descriptor when no purpose applies.", nameof(plans));
        }
        Begin(plans[0].Descriptor, plans, maxDepth);
    }

    /// <summary>
    /// Starts a message of type <paramref name="descriptor"/> that fans out to <paramref name="plans"/> (at most the
    /// constructor's count; none validates only).
    /// </summary>
    public void Begin(MessageDescriptor descriptor, ReadOnlySpan<ProtobufPlan> plans, int maxDepth)
    {
        Debug.Assert(plans.Length <= _capacity);
        _schema = ProtobufSchema.For(descriptor);
        _active = plans.Length;
        _deviceLength = 0;
        _devicePseudonymLength = 0;
        _maxDepth = Math.Min(maxDepth, _depthCapacity);
        for (var i = 0; i < plans.Length; i++)
        {
            Debug.Assert(plans[i].Schema == _schema, "Every purpose of a stream rewrites the same message type.");
            _plans[i] = plans[i];
            _outputs[i].Begin();
        }
    }

    /// <summary>Rewrites the whole message in <paramref name="payload"/>; <see cref="QuarantineReason.None"/> when every output is complete.</summary>
    public QuarantineReason Process(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return QuarantineReason.Empty;
        }
        ReadOnlySpan<byte> data;
        if (payload.IsSingleSegment)
        {
            data = payload.FirstSpan;
        }
        else
        {
            // Messages are bounded by the policy's payload limit: one copy into a reused buffer is simpler and
            // cheaper than reading every primitive across segment boundaries.
            var length = checked((int)payload.Length);
            var buffer = _contiguous.Get(length)[..length];
            payload.CopyTo(buffer);
            data = buffer;
        }
        // With no purpose (none has consent) there is no schema to hand: the message is still checked at the wire level.
        return Rewrite(data, _schema, 0);
    }

    /// <summary>Adds what purpose slot <paramref name="slot"/> counted in the finished message to <paramref name="shard"/>.</summary>
    public void CommitCounts(int slot, long[] shard) => _outputs[slot].CommitCounts(shard);

    private QuarantineReason Rewrite(ReadOnlySpan<byte> data, ProtobufSchema? schema, int depth)
    {
        var plans = _plans.AsSpan(depth * _capacity, _active);
        var position = 0;
        while (position < data.Length)
        {
            var fieldStart = position;
            if (!ProtobufWire.TryReadVarint(data, ref position, out var tag) || tag > uint.MaxValue || tag >> 3 == 0)
            {
                return QuarantineReason.MalformedProtobuf;
            }
            var number = (int)(tag >> 3);
            var wireType = (WireType)(tag & 7);
            var valueStart = position;
            switch (wireType)
            {
                case WireType.Varint:
                    if (!ProtobufWire.TrySkipVarint(data, ref position))
                    {
                        return QuarantineReason.MalformedProtobuf;
                    }
                    break;
                case WireType.Fixed64:
                    if (data.Length - position < sizeof(ulong))
                    {
                        return QuarantineReason.MalformedProtobuf;
                    }
                    position += sizeof(ulong);
                    break;
                case WireType.Fixed32:
                    if (data.Length - position < sizeof(uint))
                    {
                        return QuarantineReason.MalformedProtobuf;
                    }
                    position += sizeof(uint);
                    break;
                case WireType.LengthDelimited:
                    if (!ProtobufWire.TryReadVarint(data, ref position, out var length) || length > (ulong)(data.Length - position))
                    {
                        return QuarantineReason.MalformedProtobuf;
                    }
                    valueStart = position;
                    position += (int)length;
                    break;
                case WireType.StartGroup:
                case WireType.EndGroup:
                    return QuarantineReason.ProtobufGroup;
                default:
                    return QuarantineReason.MalformedProtobuf;
            }
            var index = schema is null ? -1 : schema.IndexOf(number);
            if (index < 0)
            {
                // Not in the schema: nothing says what it holds, so no purpose gets it.
                CountAll(plans, ProcessingAction.Dropped);
                continue;
            }
            var field = schema!.Fields[index];
            var value = data[valueStart..position];
            var packed = false;
            if (wireType != field.WireType)
            {
                if (!field.Packable || wireType != WireType.LengthDelimited)
                {
                    // A known number with another type's encoding: the generated parser would not take it as the field either.
                    CountAll(plans, ProcessingAction.TypeMismatch);
                    continue;
                }
                if (!IsWholeRun(value, field.Shape))
                {
                    return QuarantineReason.MalformedProtobuf;
                }
                packed = true;
            }
            switch (field.Shape)
            {
                case FieldShape.Message:
                    var reason = RewriteNested(plans, index, field, value, depth);
                    if (reason != QuarantineReason.None)
                    {
                        return reason;
                    }
                    continue;
                case FieldShape.String when !Utf8.IsValid(value):
                    return QuarantineReason.InvalidUtf8;
            }
            var raw = data[fieldStart..position];
            for (var i = 0; i < plans.Length; i++)
            {
                if (plans[i] is { } plan)
                {
                    Apply(_outputs[i], in plan.Fields[index], field, packed, value, raw);
                }
            }
        }
        return QuarantineReason.None;
    }

    private QuarantineReason RewriteNested(Span<ProtobufPlan?> plans, int index, SchemaField field, ReadOnlySpan<byte> value, int depth)
    {
        // The root is level 1; this message is level depth + 2.
        if (depth + 2 > _maxDepth)
        {
            return QuarantineReason.DepthExceeded;
        }
        var children = _plans.AsSpan((depth + 1) * _capacity, _active);
        for (var i = 0; i < plans.Length; i++)
        {
            ProtobufPlan? child = null;
            if (plans[i] is { } plan)
            {
                ref readonly var planned = ref plan.Fields[index];
                var output = _outputs[i];
                if (planned.Action == ProtobufAction.Message)
                {
                    child = planned.Nested ?? field.Message!.KeepAll;
                    output.Writer.WriteTag(field.Number, WireType.LengthDelimited);
                    output.Writer.BeginLength();
                    if (planned.IsGeography)
                    {
                        output.Count(ProcessingAction.Coarsened);
                    }
                }
                else
                {
                    output.Count(ProcessingAction.Dropped);
                }
            }
            children[i] = child;
        }
        var reason = Rewrite(value, field.Message!, depth + 1);
        if (reason != QuarantineReason.None)
        {
            return reason;
        }
        for (var i = 0; i < children.Length; i++)
        {
            if (children[i] is not null)
            {
                _outputs[i].Writer.EndLength();
            }
        }
        return QuarantineReason.None;
    }

    private void Apply(PurposeOutput output, in PlannedField planned, SchemaField field, bool packed, ReadOnlySpan<byte> value, ReadOnlySpan<byte> raw)
    {
        var writer = output.Writer;
        var transform = planned.Transform;
        switch (planned.Action)
        {
            case ProtobufAction.Keep:
                writer.WriteRaw(raw);
                return;
            case ProtobufAction.Drop:
            case ProtobufAction.Message:
                output.Count(ProcessingAction.Dropped);
                return;
        }
        // What only protobuf's numeric fields need; every text value goes through the shared scalar transforms below.
        var isText = field.Shape is FieldShape.String or FieldShape.Bytes;
        if (transform == TransformKind.Pseudonymize && !isText)
        {
            WritePseudonymousIntegers(writer, field, packed, value);
            output.Count(ProcessingAction.Hashed);
            return;
        }
        if (transform == TransformKind.CoarsenCoordinates && field.Shape != FieldShape.String)
        {
            output.Count(WriteCoarsened(writer, field, packed, value, planned.Parameters.Decimals) ? ProcessingAction.Coarsened : ProcessingAction.TypeMismatch);
            return;
        }
        if (transform == TransformKind.RedactText && _deviceLength > 0)
        {
            WriteRedacted(writer, field.Number, value);
            output.Count(ProcessingAction.Redacted);
            return;
        }
        if (!_scalars.TryTransformText(transform, planned.Parameters, value, out var result))
        {
            // Not a value the transform takes (an IP field holding no address, say): dropped, never passed on as it is.
            output.Count(ProcessingAction.TypeMismatch);
            return;
        }
        writer.WriteLengthDelimited(field.Number, result);
        output.Count(ScalarTransformer.ActionOf(transform));
    }

    /// <summary>
    /// Scrubs a text field straight into the output, with the rules of <see cref="TextRedaction"/>; besides, every
    /// mention of the device's own serial becomes its keyed pseudonym.
    /// </summary>
    private void WriteRedacted(ProtobufOutputWriter writer, int number, ReadOnlySpan<byte> value)
    {
        var serial = _device.Slice(_deviceLength);
        if (_devicePseudonymLength == 0)
        {
            _devicePseudonymLength = _pseudonymizer.Write(serial, _devicePseudonym.Get(_pseudonymizer.Length));
        }
        writer.WriteTag(number, WireType.LengthDelimited);
        writer.BeginLength();
        var scrubber = new TextScrubber(
            writer, serial, _devicePseudonym.Slice(_devicePseudonymLength),
            IpTruncation.DefaultIpv4PrefixLength, IpTruncation.DefaultIpv6PrefixLength, CoordinateCoarsening.DefaultDecimals);
        scrubber.Scrub(value);
        scrubber.Flush();
        writer.EndLength();
    }

    /// <summary>
    /// Coarsens a double or float field, or a packed run of them, in place of the original (a run keeps its length).
    /// False, and nothing written, when a value is not finite.
    /// </summary>
    private static bool WriteCoarsened(ProtobufOutputWriter writer, SchemaField field, bool packed, ReadOnlySpan<byte> value, int decimals)
    {
        var size = field.Shape == FieldShape.Fixed64 ? sizeof(double) : sizeof(float);
        for (var offset = 0; offset < value.Length; offset += size)
        {
            var number = size == sizeof(double) ? ProtobufWire.ReadDouble(value[offset..]) : ProtobufWire.ReadFloat(value[offset..]);
            if (!double.IsFinite(number))
            {
                return false;
            }
        }
        if (packed)
        {
            writer.WriteTag(field.Number, WireType.LengthDelimited);
            writer.WriteVarint((ulong)value.Length);
        }
        else
        {
            writer.WriteTag(field.Number, field.WireType);
        }
        var destination = writer.GetSpan(value.Length);
        for (var offset = 0; offset < value.Length; offset += size)
        {
            if (size == sizeof(double))
            {
                BinaryPrimitives.WriteDoubleLittleEndian(destination[offset..], Coarsen(ProtobufWire.ReadDouble(value[offset..]), decimals));
            }
            else
            {
                BinaryPrimitives.WriteSingleLittleEndian(destination[offset..], (float)Coarsen(ProtobufWire.ReadFloat(value[offset..]), decimals));
            }
        }
        writer.Advance(value.Length);
        return true;
    }

    /// <summary>Rounds as the text transform does: away from zero on midpoints, and no negative zero.</summary>
    private static double Coarsen(double number, int decimals)
    {
        var rounded = Math.Round(number, decimals, MidpointRounding.AwayFromZero);
        return rounded == 0 ? 0 : rounded;
    }

    /// <summary>
    /// A 64-bit integer id becomes a 64-bit pseudonym of the same field type: the first 64 bits of the keyed pseudonym
    /// of its decimal text (the text, so that the same id pseudonymized in a JSON stream or a topic joins with it).
    /// </summary>
    private void WritePseudonymousIntegers(ProtobufOutputWriter writer, SchemaField field, bool packed, ReadOnlySpan<byte> value)
    {
        if (packed)
        {
            writer.WriteTag(field.Number, WireType.LengthDelimited);
            writer.BeginLength();
        }
        var position = 0;
        while (position < value.Length)
        {
            ulong raw;
            if (field.Shape == FieldShape.Varint)
            {
                ProtobufWire.TryReadVarint(value, ref position, out raw);
            }
            else
            {
                raw = BinaryPrimitives.ReadUInt64LittleEndian(value[position..]);
                position += sizeof(ulong);
            }
            var pseudonym = PseudonymOf(raw, field.Type);
            if (!packed)
            {
                writer.WriteTag(field.Number, field.WireType);
            }
            if (field.Shape == FieldShape.Varint)
            {
                writer.WriteVarint(pseudonym);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(writer.GetSpan(sizeof(ulong)), pseudonym);
                writer.Advance(sizeof(ulong));
            }
        }
        if (packed)
        {
            writer.EndLength();
        }
    }

    private ulong PseudonymOf(ulong raw, FieldType type)
    {
        Span<byte> text = stackalloc byte[24];
        int length;
        switch (type)
        {
            case FieldType.SInt64:
                ((long)(raw >> 1) ^ -(long)(raw & 1)).TryFormat(text, out length, default, CultureInfo.InvariantCulture);
                break;
            case FieldType.Int64:
            case FieldType.SFixed64:
                ((long)raw).TryFormat(text, out length, default, CultureInfo.InvariantCulture);
                break;
            default:
                raw.TryFormat(text, out length, default, CultureInfo.InvariantCulture);
                break;
        }
        var pseudonym = _transformed.Get(_pseudonymizer.Length);
        var written = _pseudonymizer.Write(text[..length], pseudonym);
        // The pseudonym ends in 32 hex digits; the first 16 of them are the integer.
        ulong.TryParse(pseudonym.Slice(written - 32, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var result);
        return result;
    }

    private static bool IsWholeRun(ReadOnlySpan<byte> run, FieldShape shape)
    {
        switch (shape)
        {
            case FieldShape.Fixed64:
                return run.Length % sizeof(ulong) == 0;
            case FieldShape.Fixed32:
                return run.Length % sizeof(uint) == 0;
            default:
                var position = 0;
                while (position < run.Length)
                {
                    if (!ProtobufWire.TrySkipVarint(run, ref position))
                    {
                        return false;
                    }
                }
                return true;
        }
    }

    private void CountAll(ReadOnlySpan<ProtobufPlan?> plans, ProcessingAction action)
    {
        for (var i = 0; i < plans.Length; i++)
        {
            if (plans[i] is not null)
            {
                _outputs[i].Count(action);
            }
        }
    }

    public void Dispose()
    {
        foreach (var output in _outputs)
        {
            output.Writer.Dispose();
        }
        _contiguous.Dispose();
        _scrubbed?.Dispose();
        _transformed.Dispose();
        _scalars.Dispose();
        _device.Dispose();
        _devicePseudonym.Dispose();
    }

    /// <summary>One purpose's writer and what it counted in the current message.</summary>
    private sealed class PurposeOutput(int maxDepth)
    {
        private readonly int[] _counts = new int[ProcessingCounters.ActionCount];

        public ProtobufOutputWriter Writer { get; } = new(1024, maxDepth + 1);

        public void Begin()
        {
            Writer.Reset();
            Array.Clear(_counts);
        }

        public void Count(ProcessingAction action) => _counts[(int)action]++;

        public void CommitCounts(long[] shard)
        {
            for (var i = 0; i < _counts.Length; i++)
            {
                shard[i] += _counts[i];
                _counts[i] = 0;
            }
        }
    }
}
