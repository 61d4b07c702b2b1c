using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Solix;

/// <summary>
/// Writes one purpose's version of a parsed SOLIX binary message: the fields its rules keep, with serials replaced by
/// their same-length pseudonym where the rules say so (offsets inside fields stay valid), Wi-Fi names, MACs and IP
/// addresses removed, MAC-like text pseudonymized, and the length and XOR checksum recomputed. The result is always a
/// valid message of the same type.
/// </summary>
internal static class SolixTlvRewriter
{
    // Text runs that look like a serial (upper-case letters and digits, at least one of each) are pseudonymized wherever
    // they are, so a sub-device serial in a field the map does not describe is covered too. Real serials are 16-17 long.
    private const int MinSerialRun = 12;
    private const int MaxSerialRun = 40;
    private const int MacHexDigits = 12;
    private const int SeparatedMacLength = 17;

    /// <summary>
    /// Rewrites <paramref name="message"/> (parsed into <paramref name="parsed"/>) into <paramref name="destination"/>
    /// (at least as long as the message). Returns the bytes written, or -1 when this purpose receives nothing of it.
    /// </summary>
    public static int Rewrite(
        ReadOnlySpan<byte> message, SolixTlvMessage parsed, ReadOnlySpan<byte> productCode, SolixRules rules, SerialSet serials,
        Pseudonymizer pseudonymizer, Span<byte> destination, ref SolixCounts counts)
    {
        var layout = SolixMessageMap.Find(productCode, parsed.Type);
        var typeRule = layout is null ? null : rules.ForType(parsed.Type);
        if (typeRule is null && !rules.KeepsUnknownMessages)
        {
            return -1;
        }
        message[..parsed.HeaderLength].CopyTo(destination);
        var written = parsed.HeaderLength;
        foreach (var field in parsed.Fields)
        {
            var mapped = layout?.Fields[field.Id];
            var kind = mapped?.Kind ?? SolixMessageMap.KindOnAnyModel(parsed.Type, field.Id);
            var value = message.Slice(field.ValueStart, field.ValueLength);
            if (!Keeps(mapped, kind, typeRule, rules, value, serials))
            {
                counts.Dropped++;
                continue;
            }
            var fieldBytes = message[field.Start..field.End];
            fieldBytes.CopyTo(destination[written..]);
            var valueOut = destination.Slice(written + (field.ValueStart - field.Start), field.ValueLength);
            if (!Transform(value, valueOut, mapped, kind, rules, serials, pseudonymizer, ref counts))
            {
                counts.Dropped++;
                continue;
            }
            written += fieldBytes.Length;
        }
        if (!KeepsHeaderUnambiguous(message, parsed, destination, ref written))
        {
            return -1;
        }
        var total = written + 1;
        destination[2] = (byte)total;
        destination[3] = (byte)(total >> 8);
        destination[written] = SolixTlvMessage.Xor(destination[..written]);
        return total;
    }

    /// <summary>
    /// Readers tell the optional increment byte from the first field by its value (fields start at A0..A9). Without an
    /// increment byte, an output whose first field is a later one would be misread; the input's A1 pattern byte (one
    /// byte, no type: structure, not data) is then put back in front. When there is none, the purpose gets no output.
    /// </summary>
    private static bool KeepsHeaderUnambiguous(ReadOnlySpan<byte> message, SolixTlvMessage parsed, Span<byte> destination, ref int written)
    {
        const int Header = SolixTlvMessage.FixedHeaderLength;
        if (parsed.HeaderLength != Header || written == Header || destination[Header] is >= 0xA0 and <= 0xA9)
        {
            return true;
        }
        var fields = parsed.Fields;
        if (fields.Length == 0 || fields[0].Id != 0xA1 || fields[0].ValueLength != 1)
        {
            return false;
        }
        var pattern = message.Slice(fields[0].Start, 3);
        destination[Header..written].CopyTo(destination[(Header + pattern.Length)..]);
        pattern.CopyTo(destination[Header..]);
        written += pattern.Length;
        return true;
    }

    /// <summary>
    /// Remembers the Wi-Fi names and text MACs of a parsed message in <paramref name="store"/>: fields this rewriter
    /// never forwards, whose values may recur elsewhere (a log line, a JSON field) where no rule names them.
    /// </summary>
    public static void ShareLearned(ReadOnlySpan<byte> message, SolixTlvMessage parsed, ReadOnlySpan<byte> productCode, Learning.LearnedSecrets store, ReadOnlySpan<char> device)
    {
        var layout = SolixMessageMap.Find(productCode, parsed.Type);
        foreach (var field in parsed.Fields)
        {
            var kind = layout?.Fields[field.Id]?.Kind ?? SolixMessageMap.KindOnAnyModel(parsed.Type, field.Id);
            var value = message.Slice(field.ValueStart, field.ValueLength);
            if (kind is SolixFieldKind.WifiName or SolixFieldKind.Mac && IsText(value))
            {
                store.Learn(device, kind == SolixFieldKind.WifiName ? Learning.LearnedClass.WifiName : Learning.LearnedClass.Mac, TrimPadding(value[1..]));
            }
        }
    }

    private static bool Keeps(SolixMappedField? mapped, SolixFieldKind kind, SolixTypeRule? typeRule, SolixRules rules, ReadOnlySpan<byte> value, SerialSet serials)
    {
        if (kind >= SolixFieldKind.WifiName)
        {
            return false;
        }
        if (mapped is not null)
        {
            // Without a rule for the type, this is a message type the purpose forwards as an unknown message (service).
            return typeRule?.Keeps(mapped) ?? rules.KeepsUnknownMessages;
        }
        if (!rules.KeepsUnknownFields)
        {
            return false;
        }
        // An undescribed text field could be a Wi-Fi name or anything else: only a serial (examined below) passes.
        return !IsText(value) || IsSerialText(value[1..], serials);
    }

    /// <summary>Applies the serial and MAC treatment to a kept value; false when the field must be dropped after all.</summary>
    private static bool Transform(
        ReadOnlySpan<byte> value, Span<byte> output, SolixMappedField? mapped, SolixFieldKind kind, SolixRules rules, SerialSet serials,
        Pseudonymizer pseudonymizer, ref SolixCounts counts)
    {
        ScanMacs(value, output, pseudonymizer, ref counts);
        if (!rules.PseudonymizesSerial)
        {
            return true;
        }
        if (kind == SolixFieldKind.Serial)
        {
            // A serial field is a string (type 00): its text, without padding, becomes the pseudonym.
            if (!IsText(value))
            {
                return false;
            }
            var text = TrimPadding(value[1..]);
            pseudonymizer.WriteSameLength(text, output.Slice(1, text.Length));
            counts.Hashed++;
            return true;
        }
        ScanSerialRuns(value, output, pseudonymizer, ref counts);
        if (mapped is not null)
        {
            foreach (var slot in mapped.SerialSlots)
            {
                PseudonymizeSlot(value, output, slot, pseudonymizer, ref counts);
            }
        }
        // Last, so the device's own serial always gets the one pseudonym it has in the topic and envelope.
        for (var i = 0; i < serials.Count; i++)
        {
            ReplaceAll(value, output, serials[i], pseudonymizer, ref counts);
        }
        return true;
    }

    private static void PseudonymizeSlot(ReadOnlySpan<byte> value, Span<byte> output, SolixSerialSlot slot, Pseudonymizer pseudonymizer, ref SolixCounts counts)
    {
        // Offsets count from the first byte after the type byte.
        var start = 1 + slot.Offset;
        var length = slot.Length;
        if (length == 0)
        {
            if (start >= value.Length)
            {
                return;
            }
            length = value[start];
            start++;
        }
        if (start >= value.Length)
        {
            return;
        }
        length = Math.Min(length, value.Length - start);
        var text = TrimPadding(value.Slice(start, length));
        if (text.Length > 0)
        {
            pseudonymizer.WriteSameLength(text, output.Slice(start, text.Length));
            counts.Hashed++;
        }
    }

    private static void ScanSerialRuns(ReadOnlySpan<byte> value, Span<byte> output, Pseudonymizer pseudonymizer, ref SolixCounts counts)
    {
        var i = 0;
        while (i < value.Length)
        {
            if (!IsUpperAlphanumeric(value[i]))
            {
                i++;
                continue;
            }
            var start = i;
            var letters = 0;
            var digits = 0;
            while (i < value.Length && IsUpperAlphanumeric(value[i]))
            {
                if (value[i] <= '9')
                {
                    digits++;
                }
                else
                {
                    letters++;
                }
                i++;
            }
            var length = i - start;
            // Not inside a longer word (lower-case letters around it), and not a MAC (handled by ScanMacs).
            var bounded = (start == 0 || !char.IsAsciiLetterLower((char)value[start - 1])) && (i == value.Length || !char.IsAsciiLetterLower((char)value[i]));
            if (bounded && length is >= MinSerialRun and <= MaxSerialRun && letters > 0 && digits > 0 && !IsHexMac(value.Slice(start, length)))
            {
                pseudonymizer.WriteSameLength(value.Slice(start, length), output.Slice(start, length));
                counts.Hashed++;
            }
        }
    }

    /// <summary>MAC addresses written as text (12 hex digits, or 6 pairs with ':' or '-') become a same-length pseudonym.</summary>
    private static void ScanMacs(ReadOnlySpan<byte> value, Span<byte> output, Pseudonymizer pseudonymizer, ref SolixCounts counts)
    {
        var i = 0;
        while (i < value.Length)
        {
            if (!char.IsAsciiHexDigit((char)value[i]) || (i > 0 && char.IsAsciiLetterOrDigit((char)value[i - 1])))
            {
                i++;
                continue;
            }
            var length = MacLengthAt(value[i..]);
            if (length > 0 && (i + length == value.Length || !char.IsAsciiLetterOrDigit((char)value[i + length])))
            {
                pseudonymizer.WriteSameLength(value.Slice(i, length), output.Slice(i, length));
                counts.Hashed++;
                i += length;
                continue;
            }
            i++;
        }
    }

    private static int MacLengthAt(ReadOnlySpan<byte> text)
    {
        if (text.Length >= SeparatedMacLength && text[2] is (byte)':' or (byte)'-')
        {
            var separator = text[2];
            for (var i = 0; i < SeparatedMacLength; i++)
            {
                var expected = i % 3 == 2;
                if (expected ? text[i] != separator : !char.IsAsciiHexDigit((char)text[i]))
                {
                    return 0;
                }
            }
            return SeparatedMacLength;
        }
        return text.Length >= MacHexDigits && IsHexMac(text[..MacHexDigits]) ? MacHexDigits : 0;
    }

    /// <summary>Exactly 12 hex digits, with at least one digit and one letter (a bare number is not taken for a MAC).</summary>
    private static bool IsHexMac(ReadOnlySpan<byte> text)
    {
        if (text.Length != MacHexDigits)
        {
            return false;
        }
        var letters = 0;
        foreach (var b in text)
        {
            if (!char.IsAsciiHexDigit((char)b))
            {
                return false;
            }
            letters += b > '9' ? 1 : 0;
        }
        return letters is > 0 and < MacHexDigits;
    }

    private static void ReplaceAll(ReadOnlySpan<byte> value, Span<byte> output, ReadOnlySpan<byte> serial, Pseudonymizer pseudonymizer, ref SolixCounts counts)
    {
        var from = 0;
        while (from <= value.Length - serial.Length)
        {
            var found = value[from..].IndexOf(serial);
            if (found < 0)
            {
                return;
            }
            pseudonymizer.WriteSameLength(serial, output.Slice(from + found, serial.Length));
            counts.Hashed++;
            from += found + serial.Length;
        }
    }

    /// <summary>A string value: type byte 00 followed by at least one byte.</summary>
    internal static bool IsText(ReadOnlySpan<byte> value) => value.Length > 1 && value[0] == 0x00;

    private static bool IsSerialText(ReadOnlySpan<byte> text, SerialSet serials)
    {
        text = TrimPadding(text);
        for (var i = 0; i < serials.Count; i++)
        {
            if (text.SequenceEqual(serials[i]))
            {
                return true;
            }
        }
        if (text.Length is < MinSerialRun or > MaxSerialRun || IsHexMac(text))
        {
            return false;
        }
        var letters = 0;
        foreach (var b in text)
        {
            if (!IsUpperAlphanumeric(b))
            {
                return false;
            }
            letters += b > '9' ? 1 : 0;
        }
        // Letters and digits both, like a serial; a bare number (or hex-only MAC) is not taken for one.
        return letters > 0 && letters < text.Length;
    }

    /// <summary>Strings are padded with NUL bytes to a fixed width.</summary>
    internal static ReadOnlySpan<byte> TrimPadding(ReadOnlySpan<byte> text)
    {
        var end = text.IndexOf((byte)0);
        return end < 0 ? text : text[..end];
    }

    private static bool IsUpperAlphanumeric(byte b) => b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9');
}

/// <summary>Counts of one output's field actions, for the records of processing.</summary>
internal struct SolixCounts
{
    public long Dropped;
    public long Hashed;
}

/// <summary>
/// The device's serials known for a message (topic capture, <c>head.client_id</c>, <c>payload.sn</c>), as UTF-8 spans
/// into one buffer; at most <see cref="Capacity"/>, duplicates removed.
/// </summary>
internal sealed class SerialSet
{
    public const int Capacity = 3;
    public const int MaxSerialLength = 64;

    // Shorter strings are not taken for a serial: replacing them everywhere in a binary would hit unrelated bytes.
    public const int MinSerialLength = 8;

    private readonly byte[] _bytes = new byte[Capacity * MaxSerialLength];
    private readonly int[] _lengths = new int[Capacity];

    public int Count { get; private set; }

    public ReadOnlySpan<byte> this[int index] => _bytes.AsSpan(index * MaxSerialLength, _lengths[index]);

    public void Clear() => Count = 0;

    /// <summary>Adds <paramref name="serial"/> when it has the length of a serial and is not already there.</summary>
    public void Add(ReadOnlySpan<byte> serial)
    {
        if (Count == Capacity || serial.Length is < MinSerialLength or > MaxSerialLength)
        {
            return;
        }
        for (var i = 0; i < Count; i++)
        {
            if (this[i].SequenceEqual(serial))
            {
                return;
            }
        }
        serial.CopyTo(_bytes.AsSpan(Count * MaxSerialLength));
        _lengths[Count++] = serial.Length;
    }

    /// <summary>Adds a serial given as text (the topic capture), when it is ASCII.</summary>
    public void Add(ReadOnlySpan<char> serial)
    {
        if (serial.Length is < MinSerialLength or > MaxSerialLength || !System.Text.Ascii.IsValid(serial))
        {
            return;
        }
        Span<byte> utf8 = stackalloc byte[MaxSerialLength];
        var length = System.Text.Encoding.ASCII.GetBytes(serial, utf8);
        Add(utf8[..length]);
    }
}
