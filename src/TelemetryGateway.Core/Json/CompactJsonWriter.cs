using System.Buffers;
using System.Text.Encodings.Web;
using TelemetryGateway.Core.Buffers;

namespace TelemetryGateway.Core.Json;

/// <summary>
/// Writes compact JSON (no whitespace) into a reused <see cref="PooledBufferWriter"/>, for structure that a validating
/// <see cref="System.Text.Json.Utf8JsonReader"/> has already checked: it only places separators and escapes strings.
/// Its output is byte for byte what <see cref="System.Text.Json.Utf8JsonWriter"/> writes with
/// <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/> and no indentation, at a fraction of the per-token cost.
/// </summary>
internal sealed class CompactJsonWriter : IDisposable
{
    // Relaxed escaping keeps non-ASCII text readable; quotes, backslashes and control characters are still escaped.
    private static readonly JavaScriptEncoder s_encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    // Printable ASCII other than quote and backslash: bytes the encoder writes unchanged, so a run of them is copied.
    private static readonly SearchValues<byte> s_verbatim = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"u8);

    // The longest escape of one input byte: a control character becomes \u00XX.
    private const int MaxEscapedBytesPerByte = 6;

    private readonly PooledBufferWriter _output;

    // After a value or an end, the next item of the same container needs a comma.
    private bool _needsComma;

    public CompactJsonWriter(int initialCapacity) => _output = new PooledBufferWriter(initialCapacity);

    public ReadOnlyMemory<byte> WrittenMemory => _output.WrittenMemory;

    public void Reset()
    {
        _output.Reset();
        _needsComma = false;
    }

    /// <summary>Where the next token goes, with the separator state it would be written in (for <see cref="Rollback"/>).</summary>
    public (int Position, bool NeedsComma) Mark => (_output.WrittenCount, _needsComma);

    /// <summary>Bytes written so far.</summary>
    public int Position => _output.WrittenCount;

    /// <summary>Takes back everything written since <paramref name="mark"/> (an object that turned out empty, with its name).</summary>
    public void Rollback((int Position, bool NeedsComma) mark)
    {
        _output.Truncate(mark.Position);
        _needsComma = mark.NeedsComma;
    }

    public void WriteStartObject() => WriteStart((byte)'{');

    public void WriteStartArray() => WriteStart((byte)'[');

    public void WriteEndObject() => WriteEnd((byte)'}');

    public void WriteEndArray() => WriteEnd((byte)']');

    /// <summary>Writes a property name already encoded with its quotes and colon (<c>"name":</c>).</summary>
    public void WriteEncodedPropertyName(ReadOnlySpan<byte> quotedNameAndColon)
    {
        var destination = Reserve(quotedNameAndColon.Length + 1);
        var at = Comma(destination);
        quotedNameAndColon.CopyTo(destination[at..]);
        _output.Advance(at + quotedNameAndColon.Length);
        _needsComma = false;
    }

    /// <summary>
    /// Writes a property name already encoded with its quotes and colon, and a value that needs no escaping: a raw
    /// JSON value, or with <paramref name="quoted"/> a string of printable ASCII other than quote and backslash.
    /// </summary>
    public void WriteMember(ReadOnlySpan<byte> quotedNameAndColon, ReadOnlySpan<byte> value, bool quoted)
    {
        var destination = Reserve(quotedNameAndColon.Length + value.Length + 3);
        var at = Comma(destination);
        quotedNameAndColon.CopyTo(destination[at..]);
        at += quotedNameAndColon.Length;
        if (quoted)
        {
            destination[at++] = (byte)'"';
        }
        value.CopyTo(destination[at..]);
        at += value.Length;
        if (quoted)
        {
            destination[at++] = (byte)'"';
        }
        _output.Advance(at);
        _needsComma = true;
    }

    /// <summary>Writes an unescaped, valid UTF-8 property name, escaping it.</summary>
    public void WritePropertyName(ReadOnlySpan<byte> utf8Name)
    {
        WriteQuoted(utf8Name, extra: 1);
        WriteByte((byte)':');
        _needsComma = false;
    }

    /// <summary>Writes a property name of printable ASCII other than quote and backslash, which needs no escaping.</summary>
    public void WriteVerbatimPropertyName(ReadOnlySpan<byte> name)
    {
        WriteVerbatim(name, extra: 1);
        WriteByte((byte)':');
        _needsComma = false;
    }

    /// <summary>Writes a string of printable ASCII other than quote and backslash, which needs no escaping.</summary>
    public void WriteVerbatimStringValue(ReadOnlySpan<byte> value)
    {
        WriteVerbatim(value, extra: 0);
        _needsComma = true;
    }

    /// <summary>Writes an unescaped, valid UTF-8 string, escaping it.</summary>
    public void WriteStringValue(ReadOnlySpan<byte> utf8Value)
    {
        WriteQuoted(utf8Value, extra: 0);
        _needsComma = true;
    }

    /// <summary>Writes a value's JSON text as it is (a number the reader or a transform produced, or a literal).</summary>
    public void WriteRawValue(ReadOnlySpan<byte> json)
    {
        var destination = Reserve(json.Length + 1);
        var at = Comma(destination);
        json.CopyTo(destination[at..]);
        _output.Advance(at + json.Length);
        _needsComma = true;
    }

    public void WriteBooleanValue(bool value) => WriteRawValue(value ? "true"u8 : "false"u8);

    public void WriteNullValue() => WriteRawValue("null"u8);

    public void Dispose() => _output.Dispose();

    private void WriteStart(byte bracket)
    {
        var destination = Reserve(2);
        var at = Comma(destination);
        destination[at] = bracket;
        _output.Advance(at + 1);
        _needsComma = false;
    }

    private void WriteEnd(byte bracket)
    {
        WriteByte(bracket);
        _needsComma = true;
    }

    /// <summary>Writes a separating comma if one is due; returns how many bytes it wrote.</summary>
    private int Comma(Span<byte> destination)
    {
        if (!_needsComma)
        {
            return 0;
        }
        destination[0] = (byte)',';
        return 1;
    }

    /// <summary>Writes <c>"value"</c> (after a comma if due) with room for <paramref name="extra"/> bytes more.</summary>
    private void WriteQuoted(ReadOnlySpan<byte> value, int extra)
    {
        var destination = Reserve(value.Length + 3 + extra);
        var at = Comma(destination);
        destination[at++] = (byte)'"';
        var firstToEscape = value.IndexOfAnyExcept(s_verbatim);
        if (firstToEscape < 0)
        {
            value.CopyTo(destination[at..]);
            destination[at + value.Length] = (byte)'"';
            _output.Advance(at + value.Length + 1);
            return;
        }
        value[..firstToEscape].CopyTo(destination[at..]);
        _output.Advance(at + firstToEscape);
        Escape(value[firstToEscape..]);
        Reserve(1 + extra)[0] = (byte)'"';
        _output.Advance(1);
    }

    private void WriteVerbatim(ReadOnlySpan<byte> value, int extra)
    {
        var destination = Reserve(value.Length + 3 + extra);
        var at = Comma(destination);
        destination[at++] = (byte)'"';
        value.CopyTo(destination[at..]);
        at += value.Length;
        destination[at++] = (byte)'"';
        _output.Advance(at);
    }

    /// <summary>Escapes <paramref name="value"/> into the output, committing as it goes so that growing keeps it all.</summary>
    private void Escape(ReadOnlySpan<byte> value)
    {
        var sizeHint = value.Length + 16;
        while (true)
        {
            var status = s_encoder.EncodeUtf8(value, _output.GetSpan(sizeHint), out var consumed, out var escaped);
            _output.Advance(escaped);
            value = value[consumed..];
            switch (status)
            {
                case OperationStatus.Done:
                    return;
                case OperationStatus.DestinationTooSmall:
                    sizeHint = (value.Length * MaxEscapedBytesPerByte) + 1;
                    break;
                default:
                    // Callers pass validated UTF-8.
                    throw new InvalidOperationException("The value is not valid UTF-8.");
            }
        }
    }

    private void WriteByte(byte value)
    {
        _output.GetSpan(1)[0] = value;
        _output.Advance(1);
    }

    private Span<byte> Reserve(int length) => _output.GetSpan(length);
}
