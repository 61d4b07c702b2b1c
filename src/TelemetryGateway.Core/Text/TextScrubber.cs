using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Transforms;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The one implementation of the text rules, shared by <see cref="LogScrubber"/> and the <c>redact-text</c> JSON
/// transform: scrubs whole lines of UTF-8 text into a fixed destination or an <see cref="IBufferWriter{T}"/>,
/// copying everything that is not personal byte for byte so the text stays readable.
/// </summary>
/// <remarks>
/// Patterns never span a line break, so scrubbing a block of lines equals scrubbing each line alone; callers feed
/// whole lines (or a whole value) and may cut their input anywhere between lines.
/// </remarks>
internal ref struct TextScrubber
{
    // A replacement of L input bytes writes at most this many times L in a fixed destination (see TextRedaction).
    internal const int ExpansionFactor = 3;

    private const int ScratchLength = 64;
    private const int MinWriterChunk = 4096;

    // A serial this long is matched inside words too; a shorter one only as a whole word (see LogScrubber).
    private const int MinSerialLengthInsideWords = 8;

    private readonly ReadOnlySpan<byte> _serial;
    private readonly ReadOnlySpan<byte> _serialReplacement;
    private readonly int _ipv4PrefixLength;
    private readonly int _ipv6PrefixLength;
    private readonly int _coordinateDecimals;
    private readonly IBufferWriter<byte>? _writer;
    private Span<byte> _destination;
    private int _position;
    private bool _overflowed;
    private LogScrubCounts _counts;

    /// <summary>A scrubber writing into a fixed destination (<see cref="Overflowed"/> when it is too small).</summary>
    public TextScrubber(Span<byte> destination, int ipv4PrefixLength, int ipv6PrefixLength, int coordinateDecimals)
    {
        _destination = destination;
        _ipv4PrefixLength = ipv4PrefixLength;
        _ipv6PrefixLength = ipv6PrefixLength;
        _coordinateDecimals = coordinateDecimals;
    }

    /// <summary>
    /// A scrubber writing into <paramref name="writer"/>; every occurrence of <paramref name="serial"/> (ASCII case
    /// ignored) becomes <paramref name="serialReplacement"/> unless the serial is empty. Call <see cref="Flush"/> at the end.
    /// </summary>
    public TextScrubber(IBufferWriter<byte> writer, ReadOnlySpan<byte> serial, ReadOnlySpan<byte> serialReplacement, int ipv4PrefixLength, int ipv6PrefixLength, int coordinateDecimals)
    {
        _writer = writer;
        _serial = serial;
        _serialReplacement = serialReplacement;
        _ipv4PrefixLength = ipv4PrefixLength;
        _ipv6PrefixLength = ipv6PrefixLength;
        _coordinateDecimals = coordinateDecimals;
    }

    private static ReadOnlySpan<byte> SecretToken => "[secret]"u8;
    private static ReadOnlySpan<byte> SsidToken => "[ssid]"u8;
    private static ReadOnlySpan<byte> EmailToken => "[email]"u8;
    private static ReadOnlySpan<byte> PhoneToken => "[phone]"u8;
    private static ReadOnlySpan<byte> MacToken => "[mac]"u8;
    private static ReadOnlySpan<byte> IpToken => "[ip]"u8;
    private static ReadOnlySpan<byte> CoordinateToken => "[coord]"u8;

    /// <summary>True when a fixed destination was too small; what was written is then incomplete.</summary>
    public readonly bool Overflowed => _overflowed;

    /// <summary>Bytes written into a fixed destination.</summary>
    public readonly int Written => _position;

    public readonly LogScrubCounts Counts => _counts;

    /// <summary>Scrubs <paramref name="text"/>, which must end at a line boundary (or be a whole value).</summary>
    /// <remarks>
    /// Plain text is skipped with a vectorized search for the bytes that can start or announce a value (digits,
    /// separators, '@', quotes and a few punctuation marks); words without such a byte are copied in bulk,
    /// untouched. At each such byte the scanner looks back at the word before it (the key before '=' or ':', the
    /// local part before '@', the hex group before ':' '-' '.') and forward at what follows, and every unit it
    /// does not replace is copied later in one piece with the plain text around it.
    /// </remarks>
    public void Scrub(ReadOnlySpan<byte> text)
    {
        var s = text;
        var emitted = 0;
        var position = 0;

        // The start of the word whose numeric patterns were last tried, so no word is tried twice.
        var tried = -1;
        var nextSerial = FindSerial(s, 0);
        while (true)
        {
            var found = s[position..nextSerial].IndexOfAny(Triggers);
            if (found < 0)
            {
                if (nextSerial == s.Length)
                {
                    break;
                }

                Write(s[emitted..nextSerial]);
                Write(_serialReplacement);
                _counts.Serials++;
                position = emitted = nextSerial + _serial.Length;
                nextSerial = FindSerial(s, position);
                continue;
            }

            position = OnTrigger(s, position + found, ref emitted, ref tried);
            if (emitted > nextSerial)
            {
                // A replaced unit swallowed the serial.
                nextSerial = FindSerial(s, emitted);
            }
            else if (position > nextSerial)
            {
                // Skipping a word never skips the serial inside it.
                position = nextSerial;
            }
        }

        Write(s[emitted..]);
    }

    private static readonly SearchValues<byte> Triggers = SearchValues.Create("0123456789=:@\"'+(["u8);

    // Handles the trigger byte at p; returns where the search for the next trigger goes on.
    private int OnTrigger(ReadOnlySpan<byte> s, int p, ref int emitted, ref int tried)
    {
        var c = s[p];
        int end;
        if (IsDigit(c))
        {
            // A number or address runs on across '.', across '-' after a letter or digit and across ':' after a
            // digit ("2026-11-24", "3c-71-bf", "10:00:01"); its patterns are tried once, from where it starts.
            var t = WordStart(s, p, emitted);
            while (t > emitted && !IsNumericStart(s, t))
            {
                t = WordStart(s, t - 1, emitted);
            }

            if (t != tried)
            {
                tried = t;
                if (IsTokenStart(s, t) && IsNumericStart(s, t) && !CannotStartNumericValue(s, t))
                {
                    end = SkipDateTime(s, t);
                    if (end > t)
                    {
                        return end;
                    }

                    end = ReplaceNumeric(s, t, emitted);
                    if (end != t)
                    {
                        emitted = end;
                        return end;
                    }
                }
            }

            return CompoundEnd(s, p);
        }

        switch (c)
        {
            case (byte)'=':
            case (byte)':':
                end = TryReplaceMarkerBefore(s, p, emitted);
                if (end > p)
                {
                    emitted = end;
                    return end;
                }

                // "::1", "::ffff:192.0.2.1"
                if (c == ':' && (p == emitted || !IsWordByte(s[p - 1])) && p + 1 < s.Length && s[p + 1] == ':')
                {
                    end = IsNumericStart(s, p) ? TryReplaceNumeric(s, p, emitted) : p;
                    if (end != p)
                    {
                        emitted = end;
                        return end;
                    }
                }

                return c == ':' ? TryNumericWordBefore(s, p, ref emitted, ref tried) : p + 1;

            case (byte)'@':
                end = TryReplaceEmailAround(s, p, emitted);
                if (end > p)
                {
                    emitted = end;
                    return end;
                }

                return p + 1;

            case (byte)'"':
            case (byte)'\'':
                // SSID "Home Net": a Wi-Fi name marker, blanks, then a quoted value.
                if (p > emitted && s[p - 1] is (byte)' ' or (byte)'\t')
                {
                    end = TryReplaceMarkerBefore(s, p, emitted);
                    if (end > p)
                    {
                        emitted = end;
                        return end;
                    }
                }

                return p + 1;

            default:
                // '+', '(', '[': a phone number or a bracketed IPv6 address may start here.
                if ((p == emitted || !IsWordByte(s[p - 1])) && IsNumericStart(s, p))
                {
                    end = TryReplaceNumeric(s, p, emitted);
                    if (end != p)
                    {
                        emitted = end;
                        return end;
                    }
                }

                return p + 1;
        }
    }

    // The word before the separator at p, if not tried yet, may start a MAC or IPv6 address ("CB:19:..", "fe80::1").
    private int TryNumericWordBefore(ReadOnlySpan<byte> s, int p, ref int emitted, ref int tried)
    {
        if (p == emitted || !IsHex(s[p - 1]))
        {
            return p + 1;
        }

        var t = WordStart(s, p, emitted);
        if (t == tried)
        {
            return p + 1;
        }

        tried = t;
        if (!IsHex(s[t]) || !IsTokenStart(s, t) || !IsNumericStart(s, t))
        {
            return p + 1;
        }

        var end = TryReplaceNumeric(s, t, emitted);
        if (end != t)
        {
            emitted = end;
            return end;
        }

        return p + 1;
    }

    // p is '=', ':' or a quote; the key before it (after blanks and a closing quote) may be a marker.
    private int TryReplaceMarkerBefore(ReadOnlySpan<byte> s, int p, int emitted)
    {
        var k = p;
        while (k > emitted && s[k - 1] is (byte)' ' or (byte)'\t')
        {
            k--;
        }

        if (k > emitted && IsQuote(s[k - 1]) && s[p] is (byte)'=' or (byte)':')
        {
            k--;
        }

        // Every marker ends in a letter: digits, brackets and the like before a separator are not keys.
        if (k == emitted || !IsLetter(s[k - 1]))
        {
            return p;
        }

        if (!MayEndInMarker(s, k, emitted))
        {
            return p;
        }

        var i = k;
        while (i > emitted && (IsWordByte(s[i - 1]) || s[i - 1] == '-') && k - i < MaxIdentifierLength)
        {
            i--;
        }

        while (i < k && !IsWordByte(s[i]))
        {
            i++;
        }

        if (!IsTokenStart(s, i) || !MatchMarker(s, i, out var kind, out var valueStart, out var end) || end <= p)
        {
            return p;
        }

        Write(s[emitted..valueStart]);
        switch (kind)
        {
            case MarkerKind.Secret:
                Write(SecretToken);
                _counts.Secrets++;
                break;
            case MarkerKind.Coordinate:
                WriteCoarsened(s[valueStart..end]);
                break;
            default:
                Write(SsidToken);
                _counts.WifiNames++;
                break;
        }

        return end;
    }

    // Whether the letters before k end in a marker (or "name") at some possible segment start: a quick test before
    // the exact classification, which most keys ("net", "cloud", "rssi") never reach.
    private static bool MayEndInMarker(ReadOnlySpan<byte> s, int k, int emitted)
    {
        var a = k - 1;
        while (a > emitted && IsLetter(s[a - 1]) && k - a < 16)
        {
            a--;
        }

        for (var x = k - 3; x >= a; x--)
        {
            if ((x == a || (IsUpper(s[x]) && IsLower(s[x - 1])))
                && (ClassifySegment(s[x..k]) != MarkerKind.None || (k - x == 4 && IsLowerWord(s[x..k], "name"u8))))
            {
                return true;
            }
        }

        return false;
    }

    // p is '@'; the local part before it and the domain after it may form an e-mail address.
    private int TryReplaceEmailAround(ReadOnlySpan<byte> s, int p, int emitted)
    {
        var i = p;
        while (i > emitted && IsEmailLocalByte(s[i - 1]) && p - i < MaxIdentifierLength)
        {
            i--;
        }

        while (i < p && !IsWordByte(s[i]))
        {
            i++;
        }

        if (i == p || !MatchEmail(s, i, out var end))
        {
            return p;
        }

        Write(s[emitted..i]);
        Write(EmailToken);
        _counts.EmailAddresses++;
        return end;
    }

    private readonly int FindSerial(ReadOnlySpan<byte> s, int from)
    {
        if (_serial.IsEmpty)
        {
            return s.Length;
        }

        var first = _serial[0];
        var lower = (byte)(IsUpper(first) ? first | 0x20 : first);
        var upper = (byte)(IsLower(first) ? first & 0xDF : first);
        while (from < s.Length)
        {
            var found = s[from..].IndexOfAny(lower, upper);
            if (found < 0)
            {
                break;
            }

            from += found;

            // The second byte first: the first alone is often a common letter or digit.
            if ((_serial.Length == 1 || (from + 1 < s.Length && ((s[from + 1] ^ _serial[1]) & 0xDF) == 0)) && IsSerialAt(s, from))
            {
                return from;
            }

            from++;
        }

        return s.Length;
    }

    /// <summary>Writes <paramref name="bytes"/> as they are (markers and line breaks of the caller).</summary>
    public void Append(scoped ReadOnlySpan<byte> bytes) => Write(bytes);

    /// <summary>Hands what was written to the writer (writer mode only).</summary>
    public void Flush()
    {
        if (_writer is not null && _position > 0)
        {
            _writer.Advance(_position);
            _position = 0;
            _destination = default;
        }
    }

    private readonly bool IsSerialAt(ReadOnlySpan<byte> s, int i)
    {
        var end = i + _serial.Length;
        return end <= s.Length
            && Ascii.EqualsIgnoreCase(s[i..end], _serial)
            && (_serial.Length >= MinSerialLengthInsideWords
                || ((i == 0 || !IsAlphanumeric(s[i - 1])) && (end == s.Length || !IsAlphanumeric(s[end]))));
    }

    private static int WordStart(ReadOnlySpan<byte> s, int p, int emitted)
    {
        var t = p;
        while (t > emitted && IsWordByte(s[t - 1]))
        {
            t--;
        }

        return t;
    }

    // The end of the number, address or word at p, across the joints that IsNumericStart does not start after.
    private static int CompoundEnd(ReadOnlySpan<byte> s, int p)
    {
        var j = WordEnd(s, p);
        while (j + 1 < s.Length && IsWordByte(s[j + 1])
            && (s[j] == '.' || (s[j] == '-' && IsAlphanumeric(s[j - 1])) || (s[j] == ':' && IsDigit(s[j - 1]))))
        {
            j = WordEnd(s, j + 1);
        }

        return j;
    }

    private static int WordEnd(ReadOnlySpan<byte> s, int p)
    {
        var end = s[p..].IndexOfAnyExcept(WordBytes);
        return end < 0 ? s.Length : p + end;
    }

    private static readonly SearchValues<byte> WordBytes = SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"u8);

    private int TryReplaceNumeric(ReadOnlySpan<byte> s, int i, int emitted) =>
        CannotStartNumericValue(s, i) ? i : ReplaceNumeric(s, i, emitted);

    // Tries the numeric patterns at i: MAC, IPv6, IPv4, coordinate pair, phone number.
    private int ReplaceNumeric(ReadOnlySpan<byte> s, int i, int emitted)
    {
        if (MatchMac(s, i, out var end))
        {
            Write(s[emitted..i]);
            Write(MacToken);
            _counts.MacAddresses++;
            return end;
        }

        if (TryReplaceIp(s, i, emitted, ipv6: true, out end) || TryReplaceIp(s, i, emitted, ipv6: false, out end))
        {
            return end;
        }

        if (MatchCoordinatePair(s, i, out var firstEnd, out var secondStart, out end))
        {
            Write(s[emitted..i]);
            WriteCoarsened(s[i..firstEnd]);
            Write(s[firstEnd..secondStart]);
            WriteCoarsened(s[secondStart..end]);
            return end;
        }

        if (MatchPhone(s, i, out end))
        {
            Write(s[emitted..i]);
            Write(PhoneToken);
            _counts.PhoneNumbers++;
            return end;
        }

        return i;
    }

    // A quick look at the shape of the token at i (its hex run and the byte after it) rules out every numeric
    // pattern for most numbers in logs ("3", "76%", "9.1C", "0x1F"), so the matchers run only on candidates.
    private static bool CannotStartNumericValue(ReadOnlySpan<byte> s, int i)
    {
        var first = s[i];
        if (!IsHex(first))
        {
            return first is not ((byte)'+' or (byte)'(' or (byte)'[' or (byte)':' or (byte)'-');
        }

        var digitsEnd = i;
        while (digitsEnd < s.Length && IsDigit(s[digitsEnd]))
        {
            digitsEnd++;
        }

        var hexEnd = digitsEnd;
        while (hexEnd < s.Length && IsHex(s[hexEnd]) && hexEnd - i < 12)
        {
            hexEnd++;
        }

        var hex = hexEnd - i;
        var digits = digitsEnd - i;
        if (hex >= 12)
        {
            return false;
        }

        var next = hexEnd < s.Length ? s[hexEnd] : (byte)0;
        if (hex > digits)
        {
            // Hex letters: only a MAC or an IPv6 address ("3c-71-..", "cb19.7117..", "fe80::1").
            return !(next == ':' || (next == '-' && hex == 2) || (next == '.' && hex == 4));
        }

        if (digits >= 7)
        {
            return false;
        }

        switch (next)
        {
            case (byte)':':
            case (byte)'-':
            case (byte)'/':
            case (byte)'(':
                return false;
            case (byte)' ':
                return !(hexEnd + 1 < s.Length && (IsDigit(s[hexEnd + 1]) || s[hexEnd + 1] == '('));
            case (byte)'.':
                var fractionEnd = hexEnd + 1;
                while (fractionEnd < s.Length && IsDigit(s[fractionEnd]))
                {
                    fractionEnd++;
                }

                var after = fractionEnd < s.Length ? s[fractionEnd] : (byte)0;

                // IPv4 and dotted phones have a second '.', a coordinate pair three decimals and a ',', a dotted MAC four hex digits.
                return !(after == '.' || (fractionEnd - hexEnd - 1 >= 3 && after is (byte)',' or (byte)' ') || hex == 4);
            default:
                return true;
        }
    }

    // Truncating the address is also what validates it: text of an address's shape that does not parse is no address.
    private bool TryReplaceIp(ReadOnlySpan<byte> s, int i, int emitted, bool ipv6, out int end)
    {
        int addressStart;
        int addressEnd;
        if (!(ipv6 ? MatchIpv6(s, i, out addressStart, out addressEnd, out end) : MatchIpv4(s, i, out addressStart, out addressEnd, out end)))
        {
            return false;
        }

        var address = s[addressStart..addressEnd];
        Span<byte> scratch = stackalloc byte[ScratchLength];
        if (!IpTruncation.TryTruncate(address, _ipv4PrefixLength, _ipv6PrefixLength, scratch, out var n))
        {
            return false;
        }

        Write(s[emitted..addressStart]);

        // The length check keeps TextRedaction.MaxOutputLength provable whatever format the truncation writes.
        Write(n <= ExpansionFactor * address.Length ? scratch[..n] : IpToken);
        Write(s[addressEnd..end]);
        _counts.IpAddresses++;
        return true;
    }

    private void WriteCoarsened(ReadOnlySpan<byte> number)
    {
        _counts.Coordinates++;
        Span<byte> scratch = stackalloc byte[ScratchLength];
        if (CoordinateCoarsening.TryCoarsenNumber(number, _coordinateDecimals, scratch, out var n)
            && n <= ExpansionFactor * number.Length)
        {
            Write(scratch[..n]);
        }
        else
        {
            Write(CoordinateToken);
        }
    }

    private void Write(scoped ReadOnlySpan<byte> bytes)
    {
        if (bytes.TryCopyTo(_destination[_position..]))
        {
            _position += bytes.Length;
            return;
        }

        WriteSlow(bytes);
    }

    private void WriteSlow(scoped ReadOnlySpan<byte> bytes)
    {
        if (_writer is null)
        {
            // Fixed destination: remember the overflow and write nothing more.
            _overflowed = true;
            _destination = default;
            _position = 0;
            return;
        }

        _writer.Advance(_position);
        _destination = _writer.GetSpan(Math.Max(bytes.Length, MinWriterChunk));
        _position = 0;
        bytes.CopyTo(_destination);
        _position = bytes.Length;
    }
}
