using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Solix;

/// <summary>
/// The SOLIX rewriter: parses the envelope (<c>{"head": {...}, "payload": "&lt;JSON as a string&gt;"}</c>), the payload
/// JSON inside the string and the base64 TLV binary in its <c>data</c> once, then writes one valid SOLIX message per
/// purpose: head fields it keeps (client_id as the serial's same-length pseudonym where serials are pseudonymized),
/// the payload re-encoded as a JSON string, and the binary rewritten by <see cref="SolixTlvRewriter"/>.
/// </summary>
/// <remarks>
/// All intermediate forms (unescaped payload, base64 text, binary, rewritten binary, inner JSON) live in buffers this
/// instance reuses, so after warm-up a message allocates nothing. A multi-segment input is first copied into one
/// contiguous buffer (messages are bounded by the policy's <c>maxPayloadBytes</c>). One instance per thread.
/// </remarks>
internal sealed class SolixEnvelopeRewriter : IPayloadMinimizer
{
    private static readonly SearchValues<byte> s_needsEscape = SearchValues.Create(
        [(byte)'"', (byte)'\\', .. Enumerable.Range(0, 0x20).Select(b => (byte)b)]);

    private readonly Pseudonymizer _pseudonymizer;
    private readonly PooledBufferWriter[] _outputs;
    private readonly bool[] _hasOutput;
    private readonly SolixCounts[] _counts;
    private readonly PooledBufferWriter _inner = new(1024);
    private readonly ScratchBuffer _contiguous = new(1024);
    private readonly ScratchBuffer _payloadJson = new(1024);
    private readonly ScratchBuffer _base64 = new(1024);
    private readonly ScratchBuffer _binary = new(512);
    private readonly ScratchBuffer _rewritten = new(512);
    private readonly ScratchBuffer _clientId = new(64);
    private readonly ScratchBuffer _sn = new(64);
    private readonly ScratchBuffer _pn = new(64);
    private readonly SolixTlvMessage _message = new();
    private readonly SerialSet _serials = new();

    // Where each kept-able head field's value sits in the input: raw token (strings with their quotes), or -1.
    private readonly int[] _headStart = new int[SolixRules.HeadFields.Length];
    private readonly int[] _headLength = new int[SolixRules.HeadFields.Length];
    private readonly bool[] _headIsString = new bool[SolixRules.HeadFields.Length];
    private int _clientIdLength;
    private int _snLength = -1;
    private int _pnLength = -1;
    private int _binaryLength;
    // Whether the last message's binary was parsed (its fields can be learned from).
    private bool _parsed;

    public SolixEnvelopeRewriter(Pseudonymizer pseudonymizer, int maxPurposes)
    {
        _pseudonymizer = pseudonymizer;
        _outputs = new PooledBufferWriter[maxPurposes];
        for (var i = 0; i < maxPurposes; i++)
        {
            _outputs[i] = new PooledBufferWriter(1024);
        }
        _hasOutput = new bool[maxPurposes];
        _counts = new SolixCounts[maxPurposes];
    }

    public bool HasOutput(int slot) => _hasOutput[slot];

    public ReadOnlyMemory<byte> Output(int slot) => _outputs[slot].WrittenMemory;

    public void CommitCounts(int slot, long[] shard)
    {
        shard[(int)ProcessingAction.Dropped] += _counts[slot].Dropped;
        shard[(int)ProcessingAction.Hashed] += _counts[slot].Hashed;
    }

    public QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload)
    {
        ReadOnlySpan<byte> input;
        if (payload.IsSingleSegment)
        {
            input = payload.FirstSpan;
        }
        else
        {
            var length = checked((int)payload.Length);
            var contiguous = _contiguous.Get(length)[..length];
            payload.CopyTo(contiguous);
            input = contiguous;
        }
        _parsed = false;
        for (var i = 0; i < purposes.Length; i++)
        {
            _hasOutput[i] = false;
            _counts[i] = default;
        }
        QuarantineReason reason;
        bool hasData;
        try
        {
            reason = ReadEnvelope(input, out var payloadLength);
            if (reason != QuarantineReason.None)
            {
                return reason;
            }
            reason = ReadPayload(_payloadJson.Slice(payloadLength), out hasData);
        }
        catch (JsonException)
        {
            return QuarantineReason.MalformedJson;
        }
        catch (InvalidOperationException)
        {
            // Unescaping a string whose escapes encode invalid UTF-16 (a lone surrogate).
            return QuarantineReason.InvalidUtf8;
        }
        if (reason != QuarantineReason.None)
        {
            return reason;
        }
        if (!hasData)
        {
            // A `trans` payload (base64 JSON, X1 devices) is not rewritten here: fail closed, no output for any purpose.
            return QuarantineReason.None;
        }
        var binary = _binary.Slice(_binaryLength);
        reason = _message.Parse(binary);
        if (reason != QuarantineReason.None)
        {
            return reason;
        }
        _parsed = true;
        _serials.Clear();
        _serials.Add(device);
        if (_snLength >= 0)
        {
            _serials.Add(_sn.Slice(_snLength));
        }
        if (_headStart[SolixRules.ClientIdHeadField] >= 0 && _headIsString[SolixRules.ClientIdHeadField])
        {
            _serials.Add(_clientId.Slice(_clientIdLength));
        }
        for (var i = 0; i < purposes.Length; i++)
        {
            if (purposes[i].Rules is SolixRules rules)
            {
                _hasOutput[i] = WriteOutput(input, binary, rules, i);
            }
        }
        return QuarantineReason.None;
    }

    public void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth, bool byName)
    {
        // The binary's Wi-Fi name and MAC fields, by their kind; the JSON around it names no personal value.
        if (_parsed)
        {
            SolixTlvRewriter.ShareLearned(_binary.Slice(_binaryLength), _message, _pnLength >= 0 ? _pn.Slice(_pnLength) : default, store, device);
        }
    }

    /// <summary>The fields aggregates name, read from the binary the rewrite already decoded and parsed (no second parse).</summary>
    public bool ReadAggregateFields(Aggregation.AggregateFieldSet fields, in ReadOnlySequence<byte> payload, int maxDepth, Aggregation.AggregateScan scan)
    {
        if (!_parsed || fields.Plan is not SolixAggregatePlan plan)
        {
            // A `trans` payload has no binary to read.
            return false;
        }
        SolixAggregateFields.Read(_binary.Slice(_binaryLength), _message, _pnLength >= 0 ? _pn.Slice(_pnLength) : default, plan, scan);
        return true;
    }

    /// <summary>The envelope is JSON around a base64 binary: values are scrubbed inside its strings only, so it stays valid.</summary>
    public int ScrubLearned(int slot, Learning.LearnedSecretSet values, IBufferWriter<byte> output) =>
        values.Scrub(Output(slot).Span, output, jsonStrings: true);

    /// <summary>Reads the outer object: head fields' positions, and the payload string unescaped into its buffer.</summary>
    private QuarantineReason ReadEnvelope(ReadOnlySpan<byte> input, out int payloadLength)
    {
        payloadLength = -1;
        Array.Fill(_headStart, -1);
        var headSeen = false;
        var reader = new Utf8JsonReader(input);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return QuarantineReason.SolixBadEnvelope;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("head"u8))
            {
                if (headSeen)
                {
                    return QuarantineReason.DuplicateKey;
                }
                headSeen = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return QuarantineReason.SolixBadEnvelope;
                }
                var reason = ReadHead(ref reader);
                if (reason != QuarantineReason.None)
                {
                    return reason;
                }
            }
            else if (reader.ValueTextEquals("payload"u8))
            {
                if (payloadLength >= 0)
                {
                    return QuarantineReason.DuplicateKey;
                }
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return QuarantineReason.SolixBadEnvelope;
                }
                payloadLength = reader.CopyString(_payloadJson.Get(reader.ValueSpan.Length));
            }
            else
            {
                // Anything else at the top level is not part of the format: dropped, after it is read.
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return QuarantineReason.MalformedJson;
        }
        return headSeen && payloadLength >= 0 ? QuarantineReason.None : QuarantineReason.SolixBadEnvelope;
    }

    private QuarantineReason ReadHead(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = -1;
            for (var i = 0; i < SolixRules.HeadFields.Length; i++)
            {
                if (reader.ValueTextEquals(s_headNames[i]))
                {
                    index = i;
                    break;
                }
            }
            reader.Read();
            if (index < 0 || reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                // Not a field of the format, or a structure where the format has a value: never kept.
                reader.Skip();
                continue;
            }
            if (_headStart[index] >= 0)
            {
                return QuarantineReason.DuplicateKey;
            }
            var isString = reader.TokenType == JsonTokenType.String;
            _headStart[index] = (int)reader.TokenStartIndex;
            _headLength[index] = reader.ValueSpan.Length + (isString ? 2 : 0);
            _headIsString[index] = isString;
            if (index == SolixRules.ClientIdHeadField && isString)
            {
                _clientIdLength = reader.CopyString(_clientId.Get(reader.ValueSpan.Length));
            }
        }
        return QuarantineReason.None;
    }

    /// <summary>Reads the payload JSON: sn, pn, and data base64-decoded into the binary buffer.</summary>
    private QuarantineReason ReadPayload(ReadOnlySpan<byte> json, out bool hasData)
    {
        hasData = false;
        var hasTrans = false;
        _snLength = -1;
        _pnLength = -1;
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return QuarantineReason.SolixBadEnvelope;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                if (hasData)
                {
                    return QuarantineReason.DuplicateKey;
                }
                if (reader.TokenType != JsonTokenType.String)
                {
                    return QuarantineReason.SolixBadEnvelope;
                }
                var base64Length = reader.CopyString(_base64.Get(reader.ValueSpan.Length));
                var base64 = _base64.Slice(base64Length);
                var binary = _binary.Get(Base64.GetMaxDecodedFromUtf8Length(base64Length));
                if (Base64.DecodeFromUtf8(base64, binary, out var consumed, out _binaryLength) != OperationStatus.Done || consumed != base64Length)
                {
                    return QuarantineReason.InvalidBase64;
                }
                hasData = true;
            }
            else if (reader.ValueTextEquals("sn"u8))
            {
                var reason = ReadString(ref reader, _sn, ref _snLength);
                if (reason != QuarantineReason.None)
                {
                    return reason;
                }
            }
            else if (reader.ValueTextEquals("pn"u8))
            {
                var reason = ReadString(ref reader, _pn, ref _pnLength);
                if (reason != QuarantineReason.None)
                {
                    return reason;
                }
            }
            else
            {
                hasTrans |= reader.ValueTextEquals("trans"u8);
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return QuarantineReason.MalformedJson;
        }
        return hasData || hasTrans ? QuarantineReason.None : QuarantineReason.SolixBadEnvelope;
    }

    private static QuarantineReason ReadString(ref Utf8JsonReader reader, ScratchBuffer buffer, ref int length)
    {
        reader.Read();
        if (length >= 0)
        {
            return QuarantineReason.DuplicateKey;
        }
        if (reader.TokenType != JsonTokenType.String)
        {
            return QuarantineReason.SolixBadEnvelope;
        }
        length = reader.CopyString(buffer.Get(reader.ValueSpan.Length));
        return QuarantineReason.None;
    }

    /// <summary>Writes the output of slot <paramref name="slot"/>; false when the purpose receives nothing of this message.</summary>
    private bool WriteOutput(ReadOnlySpan<byte> input, ReadOnlySpan<byte> binary, SolixRules rules, int slot)
    {
        var rewritten = _rewritten.Get(binary.Length);
        var length = SolixTlvRewriter.Rewrite(
            binary, _message, _pnLength >= 0 ? _pn.Slice(_pnLength) : default, rules, _serials, _pseudonymizer, rewritten, ref _counts[slot]);
        if (length < 0)
        {
            return false;
        }

        // The payload JSON, written first on its own, then as a string into the envelope.
        var inner = _inner;
        inner.Reset();
        Write(inner, "{\"data\":\""u8);
        var encoded = inner.GetSpan(Base64.GetMaxEncodedToUtf8Length(length));
        Base64.EncodeToUtf8(rewritten[..length], encoded, out _, out var encodedLength);
        inner.Advance(encodedLength);
        Write(inner, "\""u8);
        if (rules.KeepsSn && _snLength >= 0)
        {
            Write(inner, ",\"sn\":\""u8);
            WriteSerial(inner, _sn.Slice(_snLength), rules, ref _counts[slot]);
            Write(inner, "\""u8);
        }
        if (rules.KeepsPn && _pnLength >= 0)
        {
            Write(inner, ",\"pn\":\""u8);
            WriteEscaped(inner, _pn.Slice(_pnLength));
            Write(inner, "\""u8);
        }
        Write(inner, "}"u8);

        var output = _outputs[slot];
        output.Reset();
        Write(output, "{\"head\":{"u8);
        var first = true;
        for (var i = 0; i < SolixRules.HeadFields.Length; i++)
        {
            if (!rules.KeepsHeadField[i] || _headStart[i] < 0)
            {
                continue;
            }
            var isClientId = i == SolixRules.ClientIdHeadField;
            if (isClientId && rules.PseudonymizesSerial && !_headIsString[i])
            {
                // Not a text serial, so there is nothing to pseudonymize it as: dropped.
                _counts[slot].Dropped++;
                continue;
            }
            if (!first)
            {
                Write(output, ","u8);
            }
            first = false;
            Write(output, s_headMembers[i]);
            if (isClientId && rules.PseudonymizesSerial)
            {
                Write(output, "\""u8);
                WriteSerial(output, _clientId.Slice(_clientIdLength), rules, ref _counts[slot]);
                Write(output, "\""u8);
            }
            else
            {
                Write(output, input.Slice(_headStart[i], _headLength[i]));
            }
        }
        Write(output, "},\"payload\":\""u8);
        WriteEscaped(output, inner.WrittenMemory.Span);
        Write(output, "\"}"u8);
        return true;
    }

    /// <summary>A serial: its same-length pseudonym (letters and digits, nothing to escape), or the value escaped.</summary>
    private void WriteSerial(PooledBufferWriter writer, ReadOnlySpan<byte> serial, SolixRules rules, ref SolixCounts counts)
    {
        if (!rules.PseudonymizesSerial)
        {
            WriteEscaped(writer, serial);
            return;
        }
        var destination = writer.GetSpan(serial.Length);
        writer.Advance(_pseudonymizer.WriteSameLength(serial, destination));
        counts.Hashed++;
    }

    private static void Write(PooledBufferWriter writer, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    /// <summary>Writes <paramref name="text"/> (valid UTF-8) as the content of a JSON string: quotes, backslashes and controls escaped.</summary>
    private static void WriteEscaped(PooledBufferWriter writer, ReadOnlySpan<byte> text)
    {
        while (!text.IsEmpty)
        {
            var next = text.IndexOfAny(s_needsEscape);
            if (next < 0)
            {
                Write(writer, text);
                return;
            }
            Write(writer, text[..next]);
            var b = text[next];
            var escape = writer.GetSpan(6);
            escape[0] = (byte)'\\';
            switch (b)
            {
                case (byte)'"' or (byte)'\\':
                    escape[1] = b;
                    writer.Advance(2);
                    break;
                case (byte)'\n':
                    escape[1] = (byte)'n';
                    writer.Advance(2);
                    break;
                default:
                    "u00"u8.CopyTo(escape[1..]);
                    escape[4] = HexDigit(b >> 4);
                    escape[5] = HexDigit(b & 0xF);
                    writer.Advance(6);
                    break;
            }
            text = text[(next + 1)..];
        }
    }

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private static readonly byte[][] s_headNames = Array.ConvertAll(SolixRules.HeadFields, System.Text.Encoding.UTF8.GetBytes);

    private static readonly byte[][] s_headMembers = Array.ConvertAll(SolixRules.HeadFields, name => System.Text.Encoding.UTF8.GetBytes($"\"{name}\":"));

    public void Dispose()
    {
        foreach (var output in _outputs)
        {
            output.Dispose();
        }
        _inner.Dispose();
        _contiguous.Dispose();
        _payloadJson.Dispose();
        _base64.Dispose();
        _binary.Dispose();
        _rewritten.Dispose();
        _clientId.Dispose();
        _sn.Dispose();
        _pn.Dispose();
    }
}
