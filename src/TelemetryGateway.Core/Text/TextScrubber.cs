using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Transforms;
using static TelemetryGateway.Core.Text.LogPatterns;
using static TelemetryGateway.Core.Text.MarkerGrammar;

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
    private const int PseudonymScratchLength = 128;
    private const int MaxUserInfoLength = 256;

    // A serial this long is matched inside words too; a shorter one only as a whole word (see LogScrubber).
    private const int MinSerialLengthInsideWords = 8;

    private readonly ReadOnlySpan<byte> _serial;
    private readonly ReadOnlySpan<byte> _serialReplacement;
    private readonly int _ipv4PrefixLength;
    private readonly int _ipv6PrefixLength;
    private readonly int _coordinateDecimals;
    private readonly IBufferWriter<byte>? _writer;
    private readonly Pseudonymizer? _pseudonymizer;
    private readonly SerialHandling _serialHandling;
    private readonly LearnedValues? _learned;

    // What the site revealed before this log (other messages, other formats), searched alongside this log's own values.
    private readonly Learning.LearnedSecretSet? _site;
    private readonly int _serialAnchor;
    private Span<byte> _destination;
    private int _position;
    private bool _overflowed;
    private LogScrubCounts _counts;

    /// <summary>A scrubber writing into a fixed destination (<see cref="Overflowed"/> when it is too small).</summary>
    public TextScrubber(Span<byte> destination, int ipv4PrefixLength, int ipv6PrefixLength, int coordinateDecimals)
    {
        _destination = destination;

        // The redact-text transform knows no serial: identifiers after serial markers stay as they are.
        _serialHandling = SerialHandling.Keep;
        _ipv4PrefixLength = ipv4PrefixLength;
        _ipv6PrefixLength = ipv6PrefixLength;
        _coordinateDecimals = coordinateDecimals;
    }

    /// <summary>
    /// A scrubber writing into <paramref name="writer"/>; every occurrence of <paramref name="serial"/> (ASCII case
    /// ignored) becomes <paramref name="serialReplacement"/> unless the serial is empty, and identifiers after serial
    /// markers are handled as <paramref name="serialHandling"/> says. Call <see cref="Flush"/> at the end.
    /// </summary>
    public TextScrubber(IBufferWriter<byte> writer, ReadOnlySpan<byte> serial, ReadOnlySpan<byte> serialReplacement, SerialHandling serialHandling, Pseudonymizer? pseudonymizer, int ipv4PrefixLength, int ipv6PrefixLength, int coordinateDecimals, LearnedValues? learned = null, Learning.LearnedSecretSet? site = null)
    {
        _writer = writer;
        _learned = learned;
        _site = site is { Count: > 0 } ? site : null;
        _serialAnchor = AnchorOf(serial);
        _serialHandling = serialHandling;
        _pseudonymizer = pseudonymizer;
        _serial = serial;
        _serialReplacement = serialReplacement;
        _ipv4PrefixLength = ipv4PrefixLength;
        _ipv6PrefixLength = ipv6PrefixLength;
        _coordinateDecimals = coordinateDecimals;
    }

    /// <summary>
    /// A scrubber writing into <paramref name="writer"/> that replaces the device's own serial but leaves identifiers
    /// after serial markers as they are (the rules of the redact-text transform plus the serial).
    /// </summary>
    public TextScrubber(IBufferWriter<byte> writer, ReadOnlySpan<byte> serial, ReadOnlySpan<byte> serialReplacement, int ipv4PrefixLength, int ipv6PrefixLength, int coordinateDecimals)
        : this(writer, serial, serialReplacement, SerialHandling.Keep, null, ipv4PrefixLength, ipv6PrefixLength, coordinateDecimals)
    {
    }

    private static ReadOnlySpan<byte> SecretToken => "[secret]"u8;
    private static ReadOnlySpan<byte> SsidToken => "[ssid]"u8;
    private static ReadOnlySpan<byte> EmailToken => "[email]"u8;
    private static ReadOnlySpan<byte> PhoneToken => "[phone]"u8;
    private static ReadOnlySpan<byte> MacToken => "[mac]"u8;
    private static ReadOnlySpan<byte> IpToken => "[ip]"u8;
    private static ReadOnlySpan<byte> CoordinateToken => "[coord]"u8;
    private static ReadOnlySpan<byte> DeviceToken => "[device]"u8;

    /// <summary>True when a fixed destination was too small; what was written is then incomplete.</summary>
    public readonly bool Overflowed => _overflowed;

    /// <summary>Bytes written into a fixed destination.</summary>
    public readonly int Written => _position;

    public readonly LogScrubCounts Counts => _counts;

    /// <summary>Scrubs <paramref name="text"/>, which must end at a line boundary (or be a whole value).</summary>
    /// <remarks>
    /// Plain text is skipped with a vectorized search for the bytes that can start or announce a value (digits,
    /// '=', ':', '@', quotes, '+', '(', '['); words without such a byte are copied in bulk, untouched. At each such
    /// byte the scanner looks back (to the key before '=' or ':', the local part or URL user info before '@', the
    /// start of the number or address a digit belongs to, the hex group before ':') and forward at what follows.
    /// A number that matches nothing is skipped whole; every unit not replaced is copied later in one piece with
    /// the plain text around it. The serial is found by a separate vectorized search and bounds the other.
    /// </remarks>
    public void Scrub(ReadOnlySpan<byte> text)
    {
        var s = text;
        var emitted = 0;
        var position = 0;

        // The start of the word whose numeric patterns were last tried, so no word is tried twice.
        var tried = -1;
        var nextSerial = FindSerial(s, 0);

        // A value this log revealed earlier, wherever it stands: found like the serial, by a search of its own.
        var learnedVersion = _learned?.Version ?? 0;
        var nextLearned = FindLearned(s, 0, out var learnedLength, out var learnedClass);
        while (true)
        {
            var bound = Math.Min(nextSerial, nextLearned);
            var found = NextTrigger(s, position, bound);
            if (found < 0)
            {
                if (bound == s.Length)
                {
                    break;
                }

                if (bound == nextLearned && learnedLength == 0)
                {
                    // The end of a line the learned values were searched in: search the next.
                    position = Math.Max(position, bound);
                    nextLearned = FindLearned(s, bound, out learnedLength, out learnedClass);
                    continue;
                }

                Write(s[emitted..bound]);
                if (bound == nextLearned)
                {
                    Write(Learning.LearnedClassMarkers.Of(learnedClass));
                    _counts.LearnedValues++;
                    position = emitted = nextLearned + learnedLength;
                }
                else
                {
                    Write(_serialReplacement);
                    _counts.Serials++;
                    position = emitted = nextSerial + _serial.Length;
                }

                nextSerial = nextSerial < position ? FindSerial(s, position) : nextSerial;
                nextLearned = nextLearned < position ? FindLearned(s, position, out learnedLength, out learnedClass) : nextLearned;
                continue;
            }

            position = OnTrigger(s, found, ref emitted, ref tried);
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

            if (emitted > nextLearned || (_learned is not null && _learned.Version != learnedVersion))
            {
                // A replaced unit swallowed it, or a value was just learned.
                learnedVersion = _learned!.Version;
                nextLearned = FindLearned(s, Math.Max(emitted, Math.Min(position, nextLearned)), out learnedLength, out learnedClass);
            }
            else if (position > nextLearned)
            {
                position = nextLearned;
            }
        }

        Write(s[emitted..]);
    }

    // The next value this log or the site revealed at or after from, with its length and class; or, with a length of
    // 0, where to search again (the end of the window of lines searched, or s.Length). One search for both sets: each
    // place a value may start (a word start) is tried against this log's values first, then the site's.
    private readonly int FindLearned(ReadOnlySpan<byte> s, int from, out int length, out Learning.LearnedClass kind)
    {
        length = 0;
        kind = default;
        var log = _learned is { Count: > 0 } ? _learned : null;
        if ((log is null && _site is null) || from >= s.Length)
        {
            return s.Length;
        }

        var limit = LearnedValues.WindowEnd(s, from);
        var line = s[..limit];
        var starts = new WordStarts(line, from, everyOtherByte: (log?.NonWordFirstByte ?? false) || (_site?.NonWordFirstByte ?? false));
        while (starts.MoveNext(out var i, out var other) && i <= line.Length - LearnedValues.MinLength)
        {
            if (log is not null && log.MatchAt(line, i, other, out var start, out length, out var secret))
            {
                kind = secret ? Learning.LearnedClass.WifiSecret : Learning.LearnedClass.WifiName;
                return start;
            }

            if (_site is not null && _site.MatchAt(line, i, other, out start, out length, out kind))
            {
                return start;
            }
        }

        length = 0;
        kind = default;
        return limit;
    }

    // Triggers are a few bytes apart in log text, where a table lookup beats setting up the vectorized search;
    // longer stretches of plain text go to the vectorized search.
    // The next trigger in s[from..to], or -1. A blank (2 in TriggerTable) is one only after a word that may be a
    // marker, a verb or a preposition naming a network (MarkerGrammar.MayEndBeforeBlank): most blanks follow ordinary
    // words, and passing over them here costs a table look-up and a bit test instead of a round through the scan loop.
    private static int NextTrigger(ReadOnlySpan<byte> s, int from, int to)
    {
        var table = TriggerTable;
        var k = from;
        while (true)
        {
            var probeEnd = Math.Min(to, k + ScalarProbeLength);
            for (; k < probeEnd; k++)
            {
                var t = table[s[k]];
                if (t != 0 && (t == 1 || MayEndBeforeBlankQuick(s, k)))
                {
                    return k;
                }
            }

            if (k >= to)
            {
                return -1;
            }

            var found = s[k..to].IndexOfAny(Triggers);
            if (found < 0)
            {
                return -1;
            }

            k += found;
            if (table[s[k]] == 1 || MayEndBeforeBlankQuick(s, k))
            {
                return k;
            }

            k++;
        }
    }

    private const int ScalarProbeLength = 16;

    // 1 for the bytes in Triggers, 2 for the blanks among them (triggers only after some words).
    private static ReadOnlySpan<byte> TriggerTable =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0,
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    private static readonly SearchValues<byte> Triggers = SearchValues.Create("0123456789=:@\"'+([ \t"u8);

    // Handles the trigger byte at p; returns where the search for the next trigger goes on.
    private int OnTrigger(ReadOnlySpan<byte> s, int p, ref int emitted, ref int tried)
    {
        var c = s[p];
        int end;
        if (IsDigit(c))
        {
            // "wep_key0: x", "secret_3:x": a numbered marker's colon is a joint, not part of a number ("10:00").
            var digitsEnd = p;
            while (digitsEnd < s.Length && IsDigit(s[digitsEnd]) && digitsEnd - p < 3)
            {
                digitsEnd++;
            }

            if (digitsEnd < s.Length && s[digitsEnd] == ':' && IsNumberedMarkerColon(s, digitsEnd, emitted))
            {
                return digitsEnd;
            }

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

            end = CompoundEnd(s, p);
            return TryReplaceEmbeddedMac(s, t, end, ref emitted, out var macEnd) ? macEnd : end;
        }

        switch (c)
        {
            case (byte)' ':
            case (byte)'\t':
                end = TryReplaceAfterBlank(s, p, emitted);
                if (end > p)
                {
                    emitted = end;
                    return end;
                }

                return p + 1;

            case (byte)'=':
            case (byte)':':
                // "mqtts://user:password@host", "amqp://token@host": the user info of a URL in any scheme, before
                // anything inside it (a serial as the user name) is looked at.
                if (c == ':' && TryReplaceUserInfo(s, p, emitted, out end))
                {
                    emitted = end;
                    return end + 1;
                }

                end = TryReplaceMarkerBefore(s, p, emitted);
                if (end > p)
                {
                    emitted = end;
                    return end;
                }

                if (c == '=' && p >= emitted && TryReplaceWifiFileOrQuery(s, p, ref emitted, out end))
                {
                    return end;
                }

                if (TryReplaceArguments(s, p, ref emitted, out end))
                {
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
                return ReplaceAroundAt(s, p, ref emitted);

            case (byte)'"':
            case (byte)'\'':
                // "b'\xf4\x92\xbf\x9a\x8b\xec'": a MAC as the six escaped bytes of a bytes literal.
                if (MatchEscapedMac(s, p + 1, out end) && end < s.Length && s[end] == c)
                {
                    Write(s[emitted..(p + 1)]);
                    Write(MacToken);
                    _counts.MacAddresses++;
                    emitted = end;
                    return end;
                }

                // "- 'Home Net' (00:11:22:33:44:55)": a quoted name described by its BSSID is a Wi-Fi name.
                if (MatchNamedBssid(s, p, out end))
                {
                    Write(s[emitted..p]);
                    ReplaceWifiName(s[p..end]);
                    emitted = end;
                    return end;
                }

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
                // "WiFi.begin(": a call that takes a Wi-Fi name and passphrase by position.
                if (c == '(' && TryReplaceArguments(s, p, ref emitted, out end))
                {
                    return end;
                }

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

    // p is '=': iwd's "/=<name in hex>.psk" or a captive portal's "/wifisave?s=Home&p=pass".
    private bool TryReplaceWifiFileOrQuery(ReadOnlySpan<byte> s, int p, ref int emitted, out int end)
    {
        ArgumentRole role;
        if (MatchHexProfileFile(s, p, out end))
        {
            role = ArgumentRole.WifiName;
        }
        else if (!MatchWifiQueryParameter(s, p, out role, out end))
        {
            return false;
        }

        Write(s[emitted..(p + 1)]);
        if (role == ArgumentRole.Secret)
        {
            ReplaceSecret(s[(p + 1)..end]);
        }
        else
        {
            ReplaceWifiName(s[(p + 1)..end]);
        }

        emitted = end;
        return true;
    }

    // p ends a command that takes a Wi-Fi name and passphrase as positional arguments (ArgumentCommands): each such
    // argument is replaced and remembered; end is where scanning goes on.
    private bool TryReplaceArguments(ReadOnlySpan<byte> s, int p, ref int emitted, out int end)
    {
        end = p;
        if (p == emitted || !IsAlphanumeric(s[p - 1]))
        {
            return false;
        }

        var roles = ArgumentCommands.RolesOf(s, p, out var next);
        if (roles.IsEmpty)
        {
            return false;
        }

        var replaced = false;
        for (var n = 0; n < ArgumentCommands.Count(roles) && next >= 0 && ArgumentCommands.NextArgument(s, next, out var start, out var stop); n++)
        {
            // Only quoted arguments: ESP-AT quotes every string ("+CWJAP:1" is an error code) and a bare argument of a
            // call is a variable's name.
            if (roles[n] != ArgumentRole.None && stop - start > 2 && IsQuote(s[start]))
            {
                Write(s[emitted..start]);
                if (roles[n] == ArgumentRole.Secret)
                {
                    ReplaceSecret(s[start..stop]);
                }
                else if (roles[n] == ArgumentRole.Account)
                {
                    // A client id or user name: removed like a URL's user info, not remembered (it often holds the
                    // serial, which the serial rule pseudonymizes everywhere else).
                    Write(SecretToken);
                    _counts.Secrets++;
                }
                else
                {
                    ReplaceWifiName(s[start..stop]);
                }

                emitted = stop;
                replaced = true;
            }

            end = stop;
            next = ArgumentCommands.AfterComma(s, stop);
        }

        return replaced;
    }

    // hostapd's wpa_psk_file rows: "[keyid=x] [vlanid=n] <MAC> <passphrase or 64 hex digits>". The MAC at i..macEnd
    // opens such a row when only key=value options stand before it on its line and one token after it, which holds a
    // digit or a symbol (a passphrase policy's) and is at least the 8 bytes WPA requires.
    private static bool MatchPskFileRow(ReadOnlySpan<byte> s, int i, int macEnd, out int secretStart, out int secretEnd)
    {
        secretStart = secretEnd = macEnd;
        if (macEnd >= s.Length || s[macEnd] != ' ')
        {
            return false;
        }

        var lineStart = i;
        while (lineStart > 0 && s[lineStart - 1] is not ((byte)'\n' or (byte)'\r'))
        {
            lineStart--;
        }

        var k = lineStart;
        while (k < i)
        {
            k = SkipBlanks(s, k);
            if (k >= i)
            {
                break;
            }

            if (!LooksLikeAssignment(s, k))
            {
                return false;
            }

            k = UnquotedEnd(s, k);
        }

        secretStart = macEnd + 1;
        secretEnd = secretStart;
        while (secretEnd < s.Length && s[secretEnd] is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
        {
            secretEnd++;
        }

        var rest = SkipBlanks(s, secretEnd);
        var secret = s[secretStart..secretEnd];
        return secret.Length >= 8 && (rest == s.Length || s[rest] is (byte)'\n' or (byte)'\r')
            && secret.IndexOfAnyExcept(WordBytes) >= 0 | HasDigitAndLetter(secret);
    }

    private int ReplacePskFileSecret(ReadOnlySpan<byte> s, int macEnd, int secretStart, int secretEnd)
    {
        Write(s[macEnd..secretStart]);
        ReplaceSecret(s[secretStart..secretEnd]);
        return secretEnd;
    }

    // A MAC inside an identifier, as device names and service ids carry it: "shellyplus-a8032ab61f04",
    // "wifi_7cdd90a1b2c3_..._managed_psk": twelve hex digits (letters and digits both) between '-' or '_' and the end of
    // a part. The last group of a UUID ("...-a716-446655440000") is not one.
    private bool TryReplaceEmbeddedMac(ReadOnlySpan<byte> s, int start, int end, ref int emitted, out int macEnd)
    {
        macEnd = end;
        var partStart = start;
        for (var k = start; k <= end; k++)
        {
            if (k < end && s[k] is not ((byte)'-' or (byte)'_'))
            {
                continue;
            }

            // "ESPClient_5C:CF:7F:AA:BB:01": a MAC with its separators after a name's joiner.
            if (k < end && k > start && k + 1 >= emitted && k + 1 < s.Length && IsLetter(s[k - 1]) && MatchMac(s, k + 1, out var separated)
                && separated - k - 1 == 17 && (separated == s.Length || !IsAlphanumeric(s[separated])))
            {
                Write(s[emitted..(k + 1)]);
                Write(MacToken);
                _counts.MacAddresses++;
                emitted = separated;
                macEnd = separated;
                return true;
            }

            var part = s[partStart..k];
            if (partStart > start && part.Length == 12 && partStart >= emitted && IsHexGroups(s, partStart, 1, 12, 0) && HasDigitAndLetter(part)
                && !IsUuidTail(s, partStart) && (k == s.Length || !IsAlphanumeric(s[k])))
            {
                if (s[start..partStart].SequenceEqual("wifi_"u8))
                {
                    ReplaceConnManService(s, start, partStart, k, end, ref emitted);
                    macEnd = emitted;
                    return true;
                }

                Write(s[emitted..partStart]);
                Write(MacToken);
                _counts.MacAddresses++;
                emitted = k;
                macEnd = k;
                return true;
            }

            partStart = k + 1;
        }

        return false;
    }

    // ConnMan's service id "wifi_<mac>_<ssid in hex>_managed_psk", in a "connmanctl services" row whose name column
    // (after the three flag columns) is the same Wi-Fi name in clear: the name, the MAC and the hex name are replaced.
    private void ReplaceConnManService(ReadOnlySpan<byte> s, int id, int mac, int macEnd, int end, ref int emitted)
    {
        var lineStart = id;
        while (lineStart > 0 && s[lineStart - 1] is not ((byte)'\n' or (byte)'\r'))
        {
            lineStart--;
        }

        var nameEnd = id;
        while (nameEnd > lineStart && s[nameEnd - 1] == ' ')
        {
            nameEnd--;
        }

        var nameStart = lineStart + 4;
        if (nameStart < nameEnd && nameStart >= emitted && id - nameEnd >= 1 && s[lineStart..nameStart].IndexOfAnyExcept(ServiceFlags) < 0)
        {
            Write(s[emitted..nameStart]);
            ReplaceWifiName(s[nameStart..nameEnd]);
            emitted = nameEnd;
        }

        Write(s[emitted..mac]);
        Write(MacToken);
        _counts.MacAddresses++;
        emitted = macEnd;

        // "_4d61204d61..._managed": the hex of the name (absent for a hidden network, "hidden").
        var hex = macEnd + 1;
        var hexEnd = hex;
        while (hexEnd < end && IsHex(s[hexEnd]))
        {
            hexEnd++;
        }

        if (hexEnd > hex && hexEnd < end && s[hexEnd] == '_' && (hexEnd - hex) % 2 == 0)
        {
            Write(s[emitted..hex]);
            Write(SsidToken);
            _counts.WifiNames++;
            emitted = hexEnd;
        }
    }

    // The flag columns of a connmanctl services row: favorite, autoconnect, and the state.
    private static readonly SearchValues<byte> ServiceFlags = SearchValues.Create("*AOacdR "u8);

    // "8-4-4-4-12": the 12 hex digits at i end a UUID when a 4-hex group and '-' stand before them.
    private static bool IsUuidTail(ReadOnlySpan<byte> s, int i) =>
        i >= 5 && s[i - 1] == '-' && IsHexGroups(s, i - 5, 1, 4, 0);

    // The word before the separator at p, if not tried yet, may start a MAC or IPv6 address ("CB:19:..", "fe80::1").
    private int TryNumericWordBefore(ReadOnlySpan<byte> s, int p, ref int emitted, ref int tried)
    {
        // "FA\:28\:..": nmcli escapes the colons of a MAC.
        var wordEnd = p - 1 > emitted && s[p - 1] == '\\' ? p - 1 : p;
        if (wordEnd == emitted || !IsHex(s[wordEnd - 1]))
        {
            return p + 1;
        }

        var t = WordStart(s, wordEnd, emitted);
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

    // p is a blank after a word: the word may be a marker ("password hunter2", "SSID 'Home'"), or a verb or its
    // preposition naming a Wi-Fi network ("associated with 'Home'", "wifi connect Home").
    private int TryReplaceAfterBlank(ReadOnlySpan<byte> s, int p, int emitted)
    {
        if (p == emitted)
        {
            return p;
        }

        if (EndsWithCommand(s, p, "wps_reg"u8))
        {
            return ReplaceWpsRegistration(s, p, emitted);
        }

        // "wifi connect -s "Home" -p pass", "networksetup -setairportnetwork en0 "Home" pass": options of Wi-Fi commands.
        if (MatchWifiOption(s, p, out var role, out var optionValueStart, out var optionValueEnd))
        {
            Write(s[emitted..optionValueStart]);
            if (role == ArgumentRole.Secret)
            {
                Write(SecretToken);
                _counts.Secrets++;
                LearnArguments(s[optionValueStart..optionValueEnd]);
            }
            else
            {
                ReplaceWifiName(s[optionValueStart..optionValueEnd]);
            }

            return optionValueEnd;
        }

        // "key1 's:x'", "wpa2 'x'", "psk_1 x": a marker may end in digits.
        var letterEnd = p;
        while (letterEnd > emitted + 1 && IsDigit(s[letterEnd - 1]) && p - letterEnd < 3)
        {
            letterEnd--;
        }

        if (letterEnd < p && letterEnd > emitted + 1 && IsJoiner(s[letterEnd - 1]))
        {
            letterEnd--;
        }

        var last = s[letterEnd - 1];
        if (IsLetter(last) && letterEnd == p)
        {
            var w = p - 1;
            while (w > emitted && IsLetter(s[w - 1]) && p - w < 16)
            {
                w--;
            }

            if (MayAnnounceNetwork(s[w..p]) && (w == 0 || !IsWordByte(s[w - 1]))
                && MatchAnnouncedNetwork(s, w, p, out var valueStart, out var end))
            {
                Write(s[emitted..valueStart]);
                ReplaceWifiName(s[valueStart..end]);
                return end;
            }
        }
        else if (!IsQuote(last) && !IsLetter(last) && last != '?')
        {
            return p;
        }

        return TryReplaceMarkerBefore(s, p, emitted);
    }

    // "wpa_cli wps_reg <BSSID> <AP PIN> [<new SSID in hex> <auth> <encr> <new key in hex>]": the BSSID, the PIN, the
    // new network's name and key are replaced; the authentication and encryption types are kept. Returns where
    // scanning goes on (p when nothing was replaced).
    private int ReplaceWpsRegistration(ReadOnlySpan<byte> s, int p, int emitted)
    {
        var k = p;
        for (var n = 0; n < WpsRegistrationRoles.Length; n++)
        {
            var start = SkipBlanks(s, k);
            if (start == k || start >= s.Length || s[start] is (byte)'\n' or (byte)'\r')
            {
                break;
            }

            var stop = UnquotedEnd(s, start);
            if (stop == start)
            {
                break;
            }

            Write(s[emitted..start]);
            switch (WpsRegistrationRoles[n])
            {
                case WpsArgument.Bssid when MatchMac(s, start, out var macEnd) && macEnd == stop:
                    Write(MacToken);
                    _counts.MacAddresses++;
                    break;
                case WpsArgument.Secret:
                    ReplaceSecret(s[start..stop]);
                    break;
                case WpsArgument.Name:
                    ReplaceWifiName(s[start..stop]);
                    break;
                default:
                    Write(s[start..stop]);
                    break;
            }

            emitted = k = stop;
        }

        return k;
    }

    private enum WpsArgument : byte
    {
        Kept,
        Bssid,
        Secret,
        Name,
    }

    private static ReadOnlySpan<WpsArgument> WpsRegistrationRoles =>
        [WpsArgument.Bssid, WpsArgument.Secret, WpsArgument.Name, WpsArgument.Kept, WpsArgument.Kept, WpsArgument.Secret];

    // A secret value is one token, or the quoted arguments of a command ("wpa_passphrase "Home Net" "pass""): each
    // argument is remembered on its own.
    private readonly void LearnArguments(ReadOnlySpan<byte> value)
    {
        if (_learned is null)
        {
            return;
        }

        var k = 0;
        while (k < value.Length)
        {
            k = SkipBlanks(value, k);
            if (k >= value.Length)
            {
                break;
            }

            var end = IsQuote(value[k]) ? QuotedEnd(value, k) : UnquotedEnd(value, k);
            if (end <= k)
            {
                break;
            }

            _learned.Learn(value[k..end], secret: true);
            k = end;
        }
    }

    // A cheap look at a word's length and first letter before the verb lists: "to", "with", "onto", "from", "connect",
    // "join", "joined", "joining", "reconnect".
    private static bool MayAnnounceNetwork(ReadOnlySpan<byte> word) => (word.Length, word[0] | 0x20) switch
    {
        (2, 't') or (4, 'w') or (4, 'o') or (4, 'f') or (4, 'j') or (6, 'j') or (7, 'c') or (7, 'j') or (9, 'r') or (10, 'c') => true,
        _ => false,
    };

    // p is ':' of "scheme://": the user info up to '@' becomes [secret]; end is the '@'.
    private bool TryReplaceUserInfo(ReadOnlySpan<byte> s, int p, int emitted, out int end)
    {
        end = p;
        if (p + 3 >= s.Length || s[p + 1] != '/' || s[p + 2] != '/' || p == emitted || !IsLetter(s[p - 1]))
        {
            return false;
        }

        var u = p + 3;
        // A password written raw into a URL may hold any byte but those that end the authority ('#' included:
        // "amqp://user:H7v#pQ9w@host" is a password, not a fragment).
        while (u < s.Length && u - p - 3 < MaxUserInfoLength && !IsAuthorityEnd(s[u]))
        {
            u++;
        }

        if (u == p + 3 || u >= s.Length || s[u] != '@')
        {
            return false;
        }

        Write(s[emitted..(p + 3)]);
        Write(SecretToken);
        _counts.Secrets++;

        // The password alone may show up later (a retry's log line, an error message).
        var userInfo = s[(p + 3)..u];
        var colon = userInfo.IndexOf((byte)':');
        _learned?.Learn(colon >= 0 ? userInfo[(colon + 1)..] : userInfo, secret: true);
        end = u;
        return true;
    }

    // p is '=', ':', a blank or a quote; the key before it (after blanks and a closing quote) may be a marker.
    private int TryReplaceMarkerBefore(ReadOnlySpan<byte> s, int p, int emitted)
    {
        var k = p;
        while (k > emitted && s[k - 1] is (byte)' ' or (byte)'\t')
        {
            k--;
        }

        if (k > emitted && IsQuote(s[k - 1]) && s[p] is (byte)'=' or (byte)':' or (byte)' ' or (byte)'\t')
        {
            k--;
        }

        // "Passphrase? x": an agent's prompt.
        if (k > emitted + 1 && s[k - 1] == '?' && s[p] is (byte)' ' or (byte)'\t')
        {
            k--;
        }

        // Every marker ends in a letter, or in a letter and a number ("wep_key0"): brackets and the like before a
        // separator are not keys.
        var letterEnd = k;
        while (letterEnd > emitted + 1 && IsDigit(s[letterEnd - 1]) && k - letterEnd < 3)
        {
            letterEnd--;
        }

        // "WIRELESS_ESSID_1=": an index after a joiner.
        if (letterEnd < k && letterEnd > emitted + 1 && IsJoiner(s[letterEnd - 1]))
        {
            letterEnd--;
        }

        if (letterEnd == emitted || !IsLetter(s[letterEnd - 1]))
        {
            return p;
        }

        if (!MayEndInMarker(s, letterEnd, emitted) && (letterEnd == k || !MayEndInMarker(s, k, emitted)))
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

        if (!IsTokenStart(s, i) || !MatchMarker(s, i, out var kind, out var valueStart, out var end) || end <= p
            || (kind == MarkerKind.Serial && _serialHandling == SerialHandling.Keep))
        {
            return p;
        }

        Write(s[emitted..valueStart]);
        switch (kind)
        {
            case MarkerKind.Secret:
            case MarkerKind.WeakSecret:
                Write(SecretToken);
                _counts.Secrets++;
                LearnArguments(s[valueStart..end]);
                break;
            case MarkerKind.Coordinate:
                WriteCoarsened(s[valueStart..end]);
                break;
            case MarkerKind.Serial:
                WriteSerialValue(s[valueStart..end]);
                break;
            default:
                ReplaceWifiName(s[valueStart..end]);
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

        for (var x = k - 2; x >= a; x--)
        {
            if ((x == a || (IsUpper(s[x]) && IsLower(s[x - 1])))
                && (ClassifySegment(s[x..k]) != MarkerKind.None || IsQualifier(s[x..k]) || IsWord(s[x..k], "point"u8) || IsWord(s[x..k], "points"u8) || IsWord(s[x..k], "key"u8) || IsWord(s[x..k], "content"u8)))
            {
                return true;
            }
        }

        return false;
    }

    // p is '@': the user info of a URL before it, or the local part before it and the domain after it forming an
    // e-mail address. Returns where scanning goes on.
    private int ReplaceAroundAt(ReadOnlySpan<byte> s, int p, ref int emitted)
    {
        // "mqtts://user:password@broker": the user info of a URL carries credentials; the host is scanned on.
        var u = p;
        while (u > emitted && p - u < MaxUserInfoLength && IsUserInfoByte(s[u - 1]))
        {
            u--;
        }

        if (u < p && u - 3 >= emitted && s[(u - 3)..u].SequenceEqual("://"u8))
        {
            Write(s[emitted..u]);
            Write(SecretToken);
            _counts.Secrets++;
            emitted = p;
            return p + 1;
        }

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
            return p + 1;
        }

        Write(s[emitted..i]);
        Write(EmailToken);
        _counts.EmailAddresses++;
        emitted = end;
        return end;
    }

    private static bool IsAuthorityEnd(byte b) =>
        b is (byte)'@' or (byte)'/' or (byte)'?' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'"' or (byte)'<' or (byte)'>'
            or (byte)'`';

    private static bool IsUserInfoByte(byte b) =>
        IsAlphanumeric(b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~' or (byte)'%' or (byte)':' or (byte)'!' or (byte)'$'
            or (byte)'&' or (byte)'\'' or (byte)'(' or (byte)')' or (byte)'*' or (byte)'+' or (byte)',' or (byte)';' or (byte)'=';

    // The serial is searched by its rarest byte in log text (a rare letter rather than a digit or an 'e'), so the
    // vectorized search stops at few false candidates.
    private readonly int FindSerial(ReadOnlySpan<byte> s, int from)
    {
        if (_serial.IsEmpty)
        {
            return s.Length;
        }

        var anchor = _serialAnchor;
        var b = _serial[anchor];
        var lower = (byte)(IsUpper(b) ? b | 0x20 : b);
        var upper = (byte)(IsLower(b) ? b & 0xDF : b);
        var search = from + anchor;
        while (search < s.Length)
        {
            var found = s[search..].IndexOfAny(lower, upper);
            if (found < 0)
            {
                break;
            }

            var start = search + found - anchor;
            if (IsSerialAt(s, start))
            {
                return start;
            }

            search += found + 1;
        }

        return s.Length;
    }

    private static int AnchorOf(ReadOnlySpan<byte> serial)
    {
        var anchor = 0;
        var rarest = -1;
        for (var k = 0; k < serial.Length; k++)
        {
            var rarity = Rarity(serial[k]);
            if (rarity > rarest)
            {
                rarest = rarity;
                anchor = k;
            }
        }

        return anchor;
    }

    // Letters by English frequency, most common first; digits and punctuation count as common as 'e' in logs.
    private static int Rarity(byte b)
    {
        var index = "etaoinshrdlcumwfgypbvkjxqz"u8.IndexOf((byte)(b | 0x20));
        return IsLetter(b) && index >= 0 ? index + 1 : 0;
    }

    /// <summary>
    /// Writes <c>[ssid]</c> in place of <paramref name="name"/>, a Wi-Fi name the caller found by its position (a
    /// table's name column), and remembers it for the rest of the log.
    /// </summary>
    public void ReplaceWifiName(ReadOnlySpan<byte> name)
    {
        Write(SsidToken);
        _counts.WifiNames++;
        _learned?.Learn(name, secret: false);
    }

    // Writes [secret] in place of secret (one value, learned whole) and remembers it for the rest of the log.
    private void ReplaceSecret(ReadOnlySpan<byte> secret)
    {
        Write(SecretToken);
        _counts.Secrets++;
        _learned?.Learn(secret, secret: true);
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
    // The ':' at colon ends a numbered marker ("wep_key0:", "PSK_KEY-2:"): one to three digits after its letters or joiner.
    private static bool IsNumberedMarkerColon(ReadOnlySpan<byte> s, int colon, int emitted)
    {
        var d = colon;
        while (d > emitted && IsDigit(s[d - 1]) && colon - d < 3)
        {
            d--;
        }

        if (d == colon || d <= emitted + 1 || IsDigit(s[d - 1]))
        {
            return false;
        }

        var letterEnd = IsJoiner(s[d - 1]) ? d - 1 : d;
        return letterEnd > emitted && IsLetter(s[letterEnd - 1]) && MayEndInMarker(s, letterEnd, emitted);
    }

    private static int CompoundEnd(ReadOnlySpan<byte> s, int p)
    {
        var j = WordEnd(s, p);
        while (j + 1 < s.Length && IsWordByte(s[j + 1])
            && (s[j] == '.' || (s[j] == '-' && IsAlphanumeric(s[j - 1])) || (s[j] == ':' && IsDigit(s[j - 1]) && !IsNumberedMarkerColon(s, j, 0))))
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
            return MatchPskFileRow(s, i, end, out var secretStart, out var secretEnd) ? ReplacePskFileSecret(s, end, secretStart, secretEnd) : end;
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

        if (MatchNmeaPosition(s, i, out firstEnd, out secondStart, out end))
        {
            // Degrees and minutes would need converting to be coarsened; the position goes instead.
            Write(s[emitted..i]);
            Write(CoordinateToken);
            Write(s[firstEnd..secondStart]);
            Write(CoordinateToken);
            _counts.Coordinates += 2;
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
            return !(next == ':' || (next == '-' && hex == 2) || (next == '.' && hex == 4) || (next == '\\' && hex == 2));
        }

        if (digits >= 7)
        {
            return false;
        }

        switch (next)
        {
            case (byte)'\\' when hex == 2:
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

                // IPv4 and dotted phones have a second '.', a coordinate pair three decimals and a ',' (or a blank,
                // '°', a hemisphere letter), an NMEA position a ',', a dotted MAC four hex digits.
                return !(after is (byte)'.' or (byte)','
                    || (fractionEnd - hexEnd - 1 >= 3 && (after is (byte)' ' or 0xC2 || (after & 0xDF) is (byte)'N' or (byte)'S'))
                    || hex == 4);
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

    // The identifier after a serial marker: the device's own serial gets its usual replacement; another device's
    // serial (a battery pack, an IMEI) gets its own pseudonym, of the value in upper case so that every spelling
    // of one serial gives one pseudonym, or the device marker.
    private void WriteSerialValue(ReadOnlySpan<byte> value)
    {
        _counts.Serials++;
        if (value.Length >= 2 && IsQuote(value[0]) && value[^1] == value[0])
        {
            value = value[1..^1];
        }

        if (!_serial.IsEmpty && value.Length == _serial.Length && Ascii.EqualsIgnoreCase(value, _serial))
        {
            Write(_serialReplacement);
            return;
        }

        if (_serialHandling != SerialHandling.Pseudonymize || _pseudonymizer is null || value.Length > ScratchLength)
        {
            Write(DeviceToken);
            return;
        }

        Span<byte> upper = stackalloc byte[ScratchLength];
        Ascii.ToUpper(value, upper, out var length);
        Span<byte> pseudonym = stackalloc byte[PseudonymScratchLength];
        if (_pseudonymizer.Length > PseudonymScratchLength)
        {
            Write(DeviceToken);
            return;
        }

        var written = _pseudonymizer.Write(upper[..length], pseudonym);
        Write(pseudonym[..written]);
    }

    private void WriteCoarsened(ReadOnlySpan<byte> number)
    {
        _counts.Coordinates++;
        Span<byte> scratch = stackalloc byte[ScratchLength];
        if ((DecimalRounding.TryRound(number, _coordinateDecimals, scratch, out var n)
                || CoordinateCoarsening.TryCoarsenNumber(number, _coordinateDecimals, scratch, out n))
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
