using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Unicode;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Json;

/// <summary>
/// The JSON rewriter: one pass of <see cref="Utf8JsonReader"/> over the message feeds one
/// <see cref="CompactJsonWriter"/> per purpose, each keeping only what its allowlist names, transformed as it says.
/// The message is parsed once however many purposes it fans out to.
/// </summary>
/// <remarks>
/// Everything the rewrite needs between tokens (reader state, each purpose's frame stack, the pending property
/// name) lives in fields, so input may arrive in chunks (<see cref="Process"/> with <c>isFinalBlock: false</c>)
/// and a token may straddle segments. Buffers are reused: after warm-up, a message allocates nothing.
/// One instance per thread.
/// </remarks>
internal sealed class JsonMinimizer : IPayloadMinimizer
{
    private readonly ScalarTransformer _scalars;
    private readonly PurposeWriter[] _writers;
    private readonly ScratchBuffer _name = new(256);
    private readonly ScratchBuffer _value = new(1024);
    private int _active;
    private int _maxDepth;
    private int _depth;
    private int _nameLength;
    private bool _nameVerbatim;

    // False from a property name that every purpose drops to its value: a scalar value is then only validated.
    private bool _valueWanted;
    private bool _dataIsPrintableAscii;
    private bool _rootSeen;
    private JsonReaderState _readerState;
    private JsonReaderState _initialReaderState;

    // Aggregate fields read in the rewrite's own pass (top-level members only): the set and scan asked for the next
    // message, those the last message was read for, and which field the current top-level name is (metric m: m, group
    // g: -2 - g, none: -1).
    private Aggregation.AggregateFieldSet? _aggregateFields;
    private Aggregation.AggregateScan? _aggregateScan;
    private Aggregation.AggregateFieldSet? _aggregatesRead;
    private int _aggregateField = -1;

    public JsonMinimizer(Pseudonymizer pseudonymizer, int maxPurposes, int maxDepth)
    {
        _scalars = new ScalarTransformer(pseudonymizer);
        _maxDepth = maxDepth;
        _writers = new PurposeWriter[maxPurposes];
        for (var i = 0; i < _writers.Length; i++)
        {
            _writers[i] = new PurposeWriter(maxDepth + 1);
        }
    }

    /// <summary>Output of purpose slot <paramref name="slot"/> after a successful <see cref="Process"/> with the final block.</summary>
    public ReadOnlyMemory<byte> Output(int slot) => _writers[slot].Writer.WrittenMemory;

    /// <summary>Learns the values the message revealed by the names that carry them (<see cref="Learning.JsonLearner"/>).</summary>
    public void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth, bool byName)
    {
        if (byName && !payload.IsEmpty)
        {
            Learning.JsonLearner.Learn(payload, device, store, maxDepth);
        }
    }

    /// <summary>
    /// The top-level members aggregates name, read by the rewrite's own pass when it was asked to
    /// (<see cref="ReadAggregateFieldsDuringMinimize"/>): numbers as metrics, strings (unescaped), numbers and booleans
    /// as group text; nested values are not read. False when the last message was not read for <paramref name="fields"/>.
    /// </summary>
    public bool ReadAggregateFields(Aggregation.AggregateFieldSet fields, in ReadOnlySequence<byte> payload, int maxDepth, Aggregation.AggregateScan scan)
    {
        var read = ReferenceEquals(_aggregatesRead, fields) && ReferenceEquals(_aggregateScan, scan);
        _aggregatesRead = null;
        return read;
    }

    public void ReadAggregateFieldsDuringMinimize(Aggregation.AggregateFieldSet fields, Aggregation.AggregateScan scan)
    {
        _aggregateFields = fields;
        _aggregateScan = scan;
    }

    /// <summary>Values are scrubbed inside strings (names and values) only, so the document stays valid.</summary>
    public int ScrubLearned(int slot, Learning.LearnedSecretSet values, IBufferWriter<byte> output) =>
        values.Scrub(Output(slot).Span, output, jsonStrings: true, _writers[slot].ConsentedLearnedClasses);

    /// <summary>A JSON message always has an output for each purpose: its rules name fields, and unnamed ones are dropped.</summary>
    public bool HasOutput(int slot) => true;

    /// <summary>Minimizes a whole message (the <see cref="IPayloadMinimizer"/> view: one call, final block).</summary>
    public QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload)
    {
        try
        {
            Begin(purposes, _maxDepth);
            var reason = Process(payload, isFinalBlock: true, out _);
            // Read for this message only; a message quarantined leaves nothing read.
            _aggregatesRead = reason == QuarantineReason.None ? _aggregateFields : null;
            return reason;
        }
        finally
        {
            _aggregateFields = null;
        }
    }

    /// <summary>Starts a message that fans out to <paramref name="purposes"/> (at most the constructor's count).</summary>
    public void Begin(ReadOnlySpan<StreamPurpose> purposes, int maxDepth)
    {
        Debug.Assert(purposes.Length <= _writers.Length);
        _active = purposes.Length;
        _maxDepth = Math.Min(maxDepth, _writers.Length == 0 ? maxDepth : _writers[0].Frames.Length - 1);
        _depth = 0;
        _nameLength = 0;
        _rootSeen = false;
        _valueWanted = true;
        _aggregateField = -1;
        _aggregatesRead = null;
        if (_initialReaderState.Options.MaxDepth != _maxDepth + 1)
        {
            _initialReaderState = new JsonReaderState(new JsonReaderOptions
            {
                CommentHandling = JsonCommentHandling.Disallow,
                AllowTrailingCommas = false,
                // One more than our own limit, so our check (which knows the reason code) fires first.
                MaxDepth = _maxDepth + 1,
            });
        }
        _readerState = _initialReaderState;
        for (var i = 0; i < _active; i++)
        {
            _writers[i].Begin(purposes[i]);
        }
    }

    /// <summary>
    /// Rewrites the tokens in <paramref name="data"/>. With <paramref name="isFinalBlock"/> false, returns
    /// <see cref="QuarantineReason.None"/> and sets <paramref name="consumed"/>; the caller presents the unconsumed
    /// rest again with more data. With it true, the message must be complete.
    /// </summary>
    public QuarantineReason Process(in ReadOnlySequence<byte> data, bool isFinalBlock, out long consumed)
    {
        Utf8JsonReader reader;
        if (data.IsSingleSegment)
        {
            // The usual message: one span, read once for the ASCII check and once by a reader made over it directly.
            var span = data.FirstSpan;
            _dataIsPrintableAscii = span.IndexOfAnyInRange((byte)0x7F, (byte)0xFF) < 0;
            reader = new Utf8JsonReader(span, isFinalBlock, _readerState);
        }
        else
        {
            _dataIsPrintableAscii = IsPrintableAscii(data);
            reader = new Utf8JsonReader(data, isFinalBlock, _readerState);
        }
        var reason = QuarantineReason.None;
        try
        {
            while (reason == QuarantineReason.None && reader.Read())
            {
                // Dispatched here, in one switch: a call less per token than through a method of its own.
                reason = reader.TokenType switch
                {
                    JsonTokenType.PropertyName => OnPropertyName(ref reader),
                    JsonTokenType.StartObject => OnStart(isObject: true),
                    JsonTokenType.StartArray => OnStart(isObject: false),
                    JsonTokenType.EndObject or JsonTokenType.EndArray => OnEnd(),
                    _ when _valueWanted => OnScalar(ref reader),
                    _ => PassOver(ref reader),
                };
            }
        }
        catch (JsonException)
        {
            reason = QuarantineReason.MalformedJson;
        }
        catch (InvalidOperationException)
        {
            // Unescaping a string whose escapes encode invalid UTF-16 (a lone surrogate).
            reason = QuarantineReason.InvalidUtf8;
        }
        consumed = reader.BytesConsumed;
        // Only a message still to be continued needs the reader's state; after the final block, Begin sets it anew.
        if (!isFinalBlock)
        {
            _readerState = reader.CurrentState;
        }
        if (reason == QuarantineReason.None && isFinalBlock)
        {
            if (!_rootSeen)
            {
                return QuarantineReason.Empty;
            }
        }
        return reason;
    }

    /// <summary>Adds what purpose slot <paramref name="slot"/> counted in the finished message to <paramref name="shard"/>.</summary>
    public void CommitCounts(int slot, long[] shard) => _writers[slot].CommitCounts(shard);

    /// <summary>
    /// True when <paramref name="data"/> has no DEL and no non-ASCII byte: then every unescaped string in it is
    /// verbatim (see <see cref="TryReadString"/>), found with one vectorized pass instead of one per string.
    /// </summary>
    private static bool IsPrintableAscii(in ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            if (segment.Span.IndexOfAnyInRange((byte)0x7F, (byte)0xFF) >= 0)
            {
                return false;
            }
        }
        return true;
    }

    private QuarantineReason OnStart(bool isObject)
    {
        if (_depth >= _maxDepth)
        {
            return QuarantineReason.DepthExceeded;
        }
        if (_depth == 0)
        {
            if (_rootSeen || !isObject)
            {
                return QuarantineReason.NotAnObject;
            }
            _rootSeen = true;
        }
        // Purposes that drop the container still track its depth, so it goes to each of them.
        _valueWanted = true;
        _aggregateField = -1;
        for (var i = 0; i < _active; i++)
        {
            _writers[i].OnStart(isObject, _depth, this);
        }
        _depth++;
        return QuarantineReason.None;
    }

    private QuarantineReason OnEnd()
    {
        _depth--;
        for (var i = 0; i < _active; i++)
        {
            _writers[i].OnEnd(_depth);
        }
        return QuarantineReason.None;
    }

    private ReadOnlySpan<byte> NameSpan => _name.Slice(_nameLength);

    private QuarantineReason OnPropertyName(ref Utf8JsonReader reader)
    {
        if (!TryReadString(ref reader, _name, out var name, out var inScratch, out var verbatim))
        {
            return QuarantineReason.InvalidUtf8;
        }
        var needsName = false;
        var valueWanted = false;
        for (var i = 0; i < _active; i++)
        {
            switch (_writers[i].OnPropertyName(name, _depth))
            {
                case NameUse.Duplicate:
                    return QuarantineReason.DuplicateKey;
                case NameUse.WrittenFromInput:
                    needsName = true;
                    valueWanted = true;
                    break;
                case NameUse.FromRule:
                    valueWanted = true;
                    break;
            }
        }
        if (_aggregateFields is not null && _depth == 1)
        {
            // A member an aggregate reads: its value is wanted whatever the purposes do with it.
            _aggregateField = AggregateFieldOf(name);
            valueWanted |= _aggregateField != -1;
        }
        _valueWanted = valueWanted;
        // The name is written at the next token (possibly in the next chunk), so it needs its own copy then.
        if (needsName && !inScratch)
        {
            name.CopyTo(_name.Get(name.Length));
        }
        _nameLength = needsName ? name.Length : 0;
        _nameVerbatim = verbatim;
        return QuarantineReason.None;
    }

    private QuarantineReason OnScalar(ref Utf8JsonReader reader)
    {
        if (_depth == 0)
        {
            return QuarantineReason.NotAnObject;
        }
        var tokenType = reader.TokenType;
        ReadOnlySpan<byte> value = default;
        var verbatim = false;
        if (tokenType == JsonTokenType.String)
        {
            if (!TryReadString(ref reader, _value, out value, out _, out verbatim))
            {
                return QuarantineReason.InvalidUtf8;
            }
        }
        else if (tokenType == JsonTokenType.Number)
        {
            value = RawValue(ref reader, _value);
        }
        for (var i = 0; i < _active; i++)
        {
            _writers[i].OnScalar(tokenType, value, verbatim, _depth, this);
        }
        if (_aggregateField != -1)
        {
            TakeAggregateField(tokenType, value);
            _aggregateField = -1;
        }
        return QuarantineReason.None;
    }

    private int AggregateFieldOf(ReadOnlySpan<byte> name)
    {
        var fields = _aggregateFields!;
        if (!fields.MayName(name.Length))
        {
            return -1;
        }
        for (var m = 0; m < fields.MetricsUtf8.Length; m++)
        {
            if (name.SequenceEqual(fields.MetricsUtf8[m]))
            {
                return m;
            }
        }
        for (var g = 0; g < fields.GroupsUtf8.Length; g++)
        {
            if (name.SequenceEqual(fields.GroupsUtf8[g]))
            {
                return -2 - g;
            }
        }
        return -1;
    }

    /// <summary>A top-level scalar an aggregate reads: a number as a metric; a string, number or boolean as a group's text.</summary>
    private void TakeAggregateField(JsonTokenType tokenType, ReadOnlySpan<byte> value)
    {
        var scan = _aggregateScan!;
        if (_aggregateField >= 0)
        {
            // Integers (most readings) by the quicker integer parser; the others as doubles.
            if (tokenType != JsonTokenType.Number)
            {
                return;
            }
            if (System.Buffers.Text.Utf8Parser.TryParse(value, out long integer, out var consumed) && consumed == value.Length)
            {
                scan.SetMetric(_aggregateField, integer);
            }
            else if (System.Buffers.Text.Utf8Parser.TryParse(value, out double number, out consumed) && consumed == value.Length)
            {
                scan.SetMetric(_aggregateField, number);
            }
            return;
        }
        var group = -2 - _aggregateField;
        _ = tokenType switch
        {
            JsonTokenType.String or JsonTokenType.Number => scan.SetGroup(group, value),
            JsonTokenType.True => scan.SetGroup(group, "true"u8),
            JsonTokenType.False => scan.SetGroup(group, "false"u8),
            _ => false,
        };
    }

    /// <summary>
    /// A scalar after a name that every purpose drops to its value (so not at the root). Inlined into the token loop:
    /// most such values need no more than this.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private QuarantineReason PassOver(ref Utf8JsonReader reader)
    {
        _valueWanted = true;
        // No purpose writes this value, but a string must still be valid UTF-8 (else the message is quarantined):
        // a plain token of printable-ASCII input is, so only other strings are read to be checked.
        return reader.TokenType != JsonTokenType.String || IsPlainAscii(ref reader) ? QuarantineReason.None : CheckString(ref reader);
    }

    private QuarantineReason CheckString(ref Utf8JsonReader reader) =>
        TryReadStringSlow(ref reader, _value, out _, out _, out _) ? QuarantineReason.None : QuarantineReason.InvalidUtf8;

    /// <summary>
    /// Unescaped, UTF-8-validated bytes of the current string or property name: the reader's own span when the token
    /// is contiguous and unescaped (the common case, no copy), else a copy in <paramref name="scratch"/>.
    /// <paramref name="verbatim"/> says the bytes are printable ASCII that JSON needs no escape for.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryReadString(scoped ref Utf8JsonReader reader, ScratchBuffer scratch, out ReadOnlySpan<byte> value, out bool inScratch, out bool verbatim)
    {
        // The common case, decided without a call: the reader's own span, verbatim.
        if (IsPlainAscii(ref reader))
        {
            value = reader.ValueSpan;
            inScratch = false;
            verbatim = true;
            return true;
        }
        return TryReadStringSlow(ref reader, scratch, out value, out inScratch, out verbatim);
    }

    /// <summary>
    /// True when the current token is contiguous, unescaped and in printable-ASCII input: its span is then valid UTF-8
    /// that JSON writes unescaped (see <see cref="TryReadString"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsPlainAscii(scoped ref Utf8JsonReader reader) =>
        _dataIsPrintableAscii && !reader.HasValueSequence && !reader.ValueIsEscaped;

    private bool TryReadStringSlow(scoped ref Utf8JsonReader reader, ScratchBuffer scratch, out ReadOnlySpan<byte> value, out bool inScratch, out bool verbatim)
    {
        var raw = RawValue(ref reader, scratch);
        inScratch = reader.HasValueSequence;
        // The reader admits no control character, quote or backslash unescaped, so an unescaped token without
        // DEL or non-ASCII bytes is printable ASCII: valid UTF-8 that is written as it is.
        verbatim = !reader.ValueIsEscaped && (_dataIsPrintableAscii || raw.IndexOfAnyInRange((byte)0x7F, (byte)0xFF) < 0);
        if (verbatim)
        {
            value = raw;
            return true;
        }
        if (!Utf8.IsValid(raw))
        {
            value = default;
            return false;
        }
        if (!reader.ValueIsEscaped)
        {
            value = raw;
            return true;
        }
        // An unescaped string is never longer than its escaped form.
        var length = reader.CopyString(scratch.Get(raw.Length));
        value = scratch.Slice(length);
        inScratch = true;
        return Utf8.IsValid(value);
    }

    /// <summary>The token's raw bytes: the reader's span, or (when the token straddles segments) a copy in <paramref name="scratch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> RawValue(scoped ref Utf8JsonReader reader, ScratchBuffer scratch) =>
        reader.HasValueSequence ? CopyValueSequence(ref reader, scratch) : reader.ValueSpan;

    private static ReadOnlySpan<byte> CopyValueSequence(scoped ref Utf8JsonReader reader, ScratchBuffer scratch)
    {
        var sequence = reader.ValueSequence;
        var length = checked((int)sequence.Length);
        var destination = scratch.Get(length)[..length];
        sequence.CopyTo(destination);
        return destination;
    }

    public void Dispose()
    {
        foreach (var writer in _writers)
        {
            writer.Dispose();
        }
        _name.Dispose();
        _value.Dispose();
        _scalars.Dispose();
    }

    /// <summary>Applies a scalar transform into the shared transform scratch; false when the value is not of a kind the transform takes.</summary>
    private bool TryTransform(FieldRule rule, JsonTokenType tokenType, ReadOnlySpan<byte> value, out ReadOnlySpan<byte> result, out bool resultIsNumber)
    {
        if (tokenType == JsonTokenType.String)
        {
            resultIsNumber = false;
            return _scalars.TryTransformText(rule.Transform, rule.Parameters, value, out result);
        }
        return _scalars.TryTransformNumber(rule.Transform, rule.Parameters, value, out result, out resultIsNumber);
    }

    private enum FrameMode : byte
    {
        /// <summary>Nothing inside is written.</summary>
        Drop,
        /// <summary>An object filtered by a field allowlist.</summary>
        Fields,
        /// <summary>Everything inside is copied.</summary>
        KeepAll,
        /// <summary>An IP-derived geography object: country and region only.</summary>
        Geo,
        /// <summary>An array whose elements each get the frame's rule.</summary>
        Elements,
    }

    private struct Frame
    {
        public FrameMode Mode;
        public FieldSet? Fields;
        public FieldRule? Rule;
        public ulong Seen;
        public bool IsArray;
        // A policy-shaped object that is a member of an object: taken back, name and all, when nothing of it is kept.
        public bool DropIfEmpty;
        public (int Position, bool NeedsComma) Before;
        public int ContentStart;
    }

    /// <summary>What a purpose does with a property name.</summary>
    private enum NameUse : byte
    {
        /// <summary>The field is dropped, and its drop already counted: the value is of no use to this purpose.</summary>
        Dropped,
        /// <summary>The value goes through a rule, written (if at all) under the rule's precomputed name.</summary>
        FromRule,
        /// <summary>Written as it came in (inside a kept subtree or geography), at the next token.</summary>
        WrittenFromInput,
        /// <summary>A second occurrence of a name this purpose's rules name: the message is ambiguous.</summary>
        Duplicate,
    }

    /// <summary>What applies to the next value of one purpose, decided at its property name.</summary>
    private enum Pending : byte
    {
        Drop,
        Rule,
        KeepWithInputName,
        GeoWithInputName,
    }

    /// <summary>One purpose's output: its writer, its frame stack and what the next value gets.</summary>
    private sealed class PurposeWriter : IDisposable
    {
        private StreamPurpose? _purpose;
        private Pending _pending;
        // The pending rule's index in its frame's field set: an int, because storing a reference costs a write barrier per field.
        private int _pendingIndex;

        public PurposeWriter(int maxDepth) => Frames = new Frame[maxDepth + 1];

        public CompactJsonWriter Writer { get; } = new(1024);
        public Frame[] Frames { get; }
        // Counted per message and added to the caller's counter shard once, at the end of a successful message.
        private readonly int[] _counts = new int[ProcessingCounters.ActionCount];

        private void Count(ProcessingAction action) => _counts[(int)action]++;

        public void CommitCounts(long[] shard)
        {
            for (var i = 0; i < _counts.Length; i++)
            {
                shard[i] += _counts[i];
                _counts[i] = 0;
            }
        }

        /// <summary>The contact classes of learned values the slot's entry keeps on consent (0 for most entries).</summary>
        public int ConsentedLearnedClasses => _purpose?.ConsentedLearnedClasses ?? 0;

        public void Begin(StreamPurpose purpose)
        {
            _purpose = purpose;
            Writer.Reset();
            _pending = Pending.Drop;
            _pendingIndex = 0;
            Array.Clear(_counts);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public NameUse OnPropertyName(ReadOnlySpan<byte> name, int depth)
        {
            ref var frame = ref Frames[depth - 1];
            switch (frame.Mode)
            {
                case FrameMode.Fields:
                    var index = frame.Fields!.IndexOf(name);
                    if (index < 0)
                    {
                        _pending = Pending.Drop;
                        Count(ProcessingAction.Dropped);
                        return NameUse.Dropped;
                    }
                    var bit = 1UL << index;
                    if ((frame.Seen & bit) != 0)
                    {
                        return NameUse.Duplicate;
                    }
                    frame.Seen |= bit;
                    var rule = frame.Fields[index];
                    if (rule.Transform == TransformKind.Drop && rule.Fields is null)
                    {
                        // Counted here, as the value (scalar or not) would count it, so that the value can be passed over.
                        _pending = Pending.Drop;
                        Count(ProcessingAction.Dropped);
                        return NameUse.Dropped;
                    }
                    _pending = Pending.Rule;
                    _pendingIndex = index;
                    return NameUse.FromRule;
                case FrameMode.KeepAll:
                    return NameUse.WrittenFromInput;
                case FrameMode.Geo:
                    if (IsGeneralGeoKey(name))
                    {
                        _pending = Pending.GeoWithInputName;
                        return NameUse.WrittenFromInput;
                    }
                    _pending = Pending.Drop;
                    return NameUse.Dropped;
                default:
                    _pending = Pending.Drop;
                    return NameUse.Dropped;
            }
        }

        public void OnStart(bool isObject, int depth, JsonMinimizer owner)
        {
            ref var frame = ref Frames[depth];
            frame.Seen = 0;
            frame.Fields = null;
            frame.Rule = null;
            frame.IsArray = !isObject;
            frame.DropIfEmpty = false;
            if (depth == 0)
            {
                frame.Mode = FrameMode.Fields;
                frame.Fields = _purpose!.Fields;
                Writer.WriteStartObject();
                return;
            }
            ref readonly var parent = ref Frames[depth - 1];
            switch (Resolve(in parent, out var rule))
            {
                case Pending.Drop:
                    frame.Mode = FrameMode.Drop;
                    return;
                case Pending.KeepWithInputName:
                    WriteName(in parent, null, owner);
                    frame.Mode = FrameMode.KeepAll;
                    break;
                case Pending.GeoWithInputName:
                    // Geography keeps country and region as plain values; nested structure is dropped.
                    frame.Mode = FrameMode.Drop;
                    return;
                default:
                    frame.Mode = ModeFor(rule!, isObject);
                    if (frame.Mode == FrameMode.Drop)
                    {
                        Count(rule!.Transform == TransformKind.Drop ? ProcessingAction.Dropped : ProcessingAction.TypeMismatch);
                        return;
                    }
                    frame.Fields = rule!.Fields;
                    frame.Rule = rule;
                    // An object the policy shapes field by field, inside an object (an array keeps its elements'
                    // positions): when the policy leaves nothing in it, it goes, rather than leaving "name":{}.
                    frame.DropIfEmpty = isObject && frame.Mode == FrameMode.Fields && !parent.IsArray;
                    frame.Before = Writer.Mark;
                    WriteName(in parent, rule, owner);
                    break;
            }
            if (isObject)
            {
                Writer.WriteStartObject();
                frame.ContentStart = Writer.Position;
            }
            else
            {
                Writer.WriteStartArray();
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void OnEnd(int depth)
        {
            ref readonly var frame = ref Frames[depth];
            switch (frame.Mode)
            {
                case FrameMode.Drop:
                    return;
                case FrameMode.Geo:
                    Count(ProcessingAction.Coarsened);
                    break;
            }
            if (frame.IsArray)
            {
                Writer.WriteEndArray();
            }
            else if (frame.DropIfEmpty && Writer.Position == frame.ContentStart)
            {
                Writer.Rollback(frame.Before);
            }
            else
            {
                Writer.WriteEndObject();
            }
        }

        public void OnScalar(JsonTokenType tokenType, ReadOnlySpan<byte> value, bool verbatim, int depth, JsonMinimizer owner)
        {
            ref readonly var parent = ref Frames[depth - 1];
            switch (Resolve(in parent, out var rule))
            {
                case Pending.Drop:
                    return;
                case Pending.KeepWithInputName:
                    WriteName(in parent, null, owner);
                    Copy(tokenType, value, verbatim);
                    return;
                case Pending.GeoWithInputName:
                    if (tokenType is JsonTokenType.String or JsonTokenType.Number)
                    {
                        WriteName(in parent, null, owner);
                        Copy(tokenType, value, verbatim);
                    }
                    return;
            }
            switch (rule!.Transform)
            {
                case TransformKind.Drop:
                    Count(ProcessingAction.Dropped);
                    return;
                case TransformKind.Keep when rule.Fields is null:
                    if (!parent.IsArray && (tokenType == JsonTokenType.Number || verbatim))
                    {
                        // The most common field of all: a kept number or plain string, written with its name in one go.
                        Writer.WriteMember(rule.PropertyNameJson, value, quoted: verbatim);
                        return;
                    }
                    WriteName(in parent, rule, owner);
                    Copy(tokenType, value, verbatim);
                    return;
            }
            if (tokenType == JsonTokenType.Null)
            {
                // null carries nothing to protect, and keeps the field's presence visible.
                WriteName(in parent, rule, owner);
                Writer.WriteNullValue();
                return;
            }
            if (rule.Fields is not null || rule.Transform == TransformKind.GeneralizeGeo
                || tokenType is JsonTokenType.True or JsonTokenType.False
                || !owner.TryTransform(rule, tokenType, value, out var result, out var isNumber))
            {
                Count(ProcessingAction.TypeMismatch);
                return;
            }
            WriteName(in parent, rule, owner);
            if (isNumber)
            {
                Writer.WriteRawValue(result);
            }
            else
            {
                Writer.WriteStringValue(result);
            }
            Count(ScalarTransformer.ActionOf(rule.Transform));
        }

        /// <summary>What applies to a value inside <paramref name="parent"/>: the pending decision for objects, the frame's rule for arrays.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Pending Resolve(in Frame parent, out FieldRule? rule)
        {
            switch (parent.Mode)
            {
                case FrameMode.Elements:
                    rule = parent.Rule;
                    return Pending.Rule;
                case FrameMode.KeepAll:
                    rule = null;
                    return Pending.KeepWithInputName;
                case FrameMode.Drop:
                    rule = null;
                    return Pending.Drop;
                default:
                    var pending = _pending;
                    rule = pending == Pending.Rule ? parent.Fields![_pendingIndex] : null;
                    _pending = Pending.Drop;
                    return pending;
            }
        }

        private static FrameMode ModeFor(FieldRule rule, bool isObject)
        {
            if (rule.Fields is not null)
            {
                return isObject ? FrameMode.Fields : FrameMode.Elements;
            }
            return rule.Transform switch
            {
                TransformKind.Keep => FrameMode.KeepAll,
                TransformKind.Drop => FrameMode.Drop,
                TransformKind.GeneralizeGeo => isObject ? FrameMode.Geo : FrameMode.Elements,
                // A scalar transform applies to each element of an array, and cannot apply to an object.
                _ => isObject ? FrameMode.Drop : FrameMode.Elements,
            };
        }

        /// <summary>Writes the rule's name, or with no rule the input's name, which <paramref name="owner"/> holds.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void WriteName(in Frame parent, FieldRule? rule, JsonMinimizer owner)
        {
            if (parent.IsArray)
            {
                return;
            }
            if (rule is not null)
            {
                Writer.WriteEncodedPropertyName(rule.PropertyNameJson);
            }
            else if (owner._nameVerbatim)
            {
                Writer.WriteVerbatimPropertyName(owner.NameSpan);
            }
            else
            {
                Writer.WritePropertyName(owner.NameSpan);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Copy(JsonTokenType tokenType, ReadOnlySpan<byte> value, bool verbatim)
        {
            switch (tokenType)
            {
                case JsonTokenType.String when verbatim:
                    Writer.WriteVerbatimStringValue(value);
                    break;
                case JsonTokenType.String:
                    Writer.WriteStringValue(value);
                    break;
                case JsonTokenType.Number:
                    Writer.WriteRawValue(value);
                    break;
                case JsonTokenType.True:
                    Writer.WriteBooleanValue(true);
                    break;
                case JsonTokenType.False:
                    Writer.WriteBooleanValue(false);
                    break;
                default:
                    Writer.WriteNullValue();
                    break;
            }
        }

        // By length first: most keys of a geography object (city, postal code, coordinates) match no length here.
        // Inlined, as every key of a geography object asks.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool IsGeneralGeoKey(ReadOnlySpan<byte> name) => name.Length switch
        {
            6 => name.SequenceEqual("region"u8),
            7 => name.SequenceEqual("country"u8),
            10 => name.SequenceEqual("regionCode"u8),
            11 => name.SequenceEqual("countryCode"u8) || name.SequenceEqual("region_code"u8) || name.SequenceEqual("subdivision"u8),
            12 => name.SequenceEqual("country_code"u8),
            15 => name.SequenceEqual("region_iso_code"u8),
            16 => name.SequenceEqual("country_iso_code"u8) || name.SequenceEqual("subdivision_code"u8),
            _ => false,
        };

        public void Dispose()
        {
            Writer.Dispose();
        }
    }
}
