using System.Runtime.CompilerServices;
using System.Text;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>What an identifier before a separator announces.</summary>
internal enum MarkerKind
{
    None,

    // "password", "passphrase", "psk", "wifi_key", "wps_pin", "apiKey": any value after it is a secret.
    Secret,

    // "pass", "pw", "key", "token", "secret", "credentials", "bearer": common words too, so after blanks alone
    // only a value that looks like a secret (quoted, or holding a digit or symbol) is taken.
    WeakSecret,
    Ssid,

    // "wifi", "wlan" and "network" double as log component names ("wifi: scan done"), so they need stricter syntax.
    SsidComponent,
    Coordinate,

    // A device identifier: "sn", "serial", "serial_number", "imei", "imsi", "iccid".
    Serial,

    // "connection", "profile": a network stack's connection profile, named after blanks in quotes
    // ("starting connection 'Home'"); its name is the Wi-Fi name more often than not.
    Profile,
}

/// <summary>
/// The grammar of a marker and its value in free text: <c>marker joint value</c>, where the marker is a word (or
/// the last segment of a dotted, dashed, underscored or camel-case name), the joint is any run of blanks,
/// <c>=</c>, <c>:</c>, <c>:=</c>, <c>=&gt;</c>, <c>-&gt;</c> or linking words of prose (<c>is</c>, <c>to</c>,
/// <c>set to</c>, ...), and the value is quoted (<c>"</c>, <c>'</c>, backtick; it may hold blanks) or bare.
/// Also the phrasings network stacks use to name a Wi-Fi network: "associated with 'x'", "connected to x",
/// "connection 'x'", "access point: x".
/// </summary>
/// <remarks>
/// An explicit joint (<c>=</c>, <c>:</c>) is certain: whatever value follows is taken. A joint of blanks or prose is
/// not, so the value must not be an ordinary word of log prose ("password authentication failed", "token
/// expired"), and after a weak marker it must look like a secret. Where the marker is certain but the end of an
/// unquoted Wi-Fi name is not, the name runs to the end of its clause: the rule errs on removing.
/// </remarks>
internal static class MarkerGrammar
{
    // An SSID is at most 32 bytes; a clause that names one is cut after this many bytes.
    private const int MaxClauseLength = 96;
    private const int MaxLinkWords = 4;
    private const int MaxContextSearch = 512;
    private const int MaxForClause = 64;

    // "pass 3 of 5": a weak marker's loose value is a secret only from this length on.
    private const int MinWeakValueLength = 4;

    /// <summary>
    /// Matches a marker at <paramref name="i"/> (the start of an identifier) and its value.
    /// <paramref name="valueStart"/>..<paramref name="end"/> is what gets replaced.
    /// </summary>
    internal static bool MatchMarker(ReadOnlySpan<byte> s, int i, out MarkerKind kind, out int valueStart, out int end)
    {
        valueStart = end = i;
        kind = ClassifyIdentifier(s, i, out var j);
        if (kind == MarkerKind.None)
        {
            kind = ClassifyByPreviousWord(s, i, j);
            if (kind == MarkerKind.None)
            {
                return false;
            }
        }

        // A quoted key ("password": ..., 'ssid' value ..., 'wifi.psk' = ...) closes its quote before the joint.
        var k = j;
        if (k < s.Length && IsQuote(s[k]) && OpensQuotedKey(s, i, s[k]))
        {
            k++;
        }

        var afterKey = k;
        k = SkipBlanks(s, k);
        if (k >= s.Length)
        {
            return false;
        }

        // "Connecting to SAVED AP: Home Net": an access point named after ':' or '=' is a Wi-Fi name.
        if (kind == MarkerKind.Profile && IsWord(s[i..j], "ap"u8) && s[k] is (byte)':' or (byte)'=')
        {
            kind = MarkerKind.Ssid;
        }
        else if (kind == MarkerKind.Profile)
        {
            return MatchProfileName(s, afterKey, k, acceptsVerb: !IsWord(s[i..j], "ap"u8), out valueStart, out end);
        }

        if (s[k] is (byte)'=' or (byte)':' || (s[k] == '-' && k + 1 < s.Length && s[k + 1] == '>'))
        {
            return MatchExplicitValue(s, k, kind, out valueStart, out end);
        }

        // "Passphrase? Baguette;Fromage=2": a prompt (ConnMan's agent), answered by the rest of the line.
        if (s[k] == '?' && k == afterKey && k + 1 < s.Length && s[k + 1] == ' ' && kind is MarkerKind.Secret or MarkerKind.WeakSecret or MarkerKind.Ssid)
        {
            valueStart = SkipBlanks(s, k + 1);
            end = valueStart;
            while (end < s.Length && s[end] is not ((byte)'\n' or (byte)'\r'))
            {
                end++;
            }

            while (end > valueStart && s[end - 1] is (byte)' ' or (byte)'\t')
            {
                end--;
            }

            return end > valueStart;
        }

        if (k == afterKey || kind == MarkerKind.Serial)
        {
            return false;
        }

        // Blanks, then perhaps linking words ("is", "set to", "value").
        var linked = SkipLinkWords(s, k, kind, out var valueAt, out var terminal, out var naming);
        // "wlan set hostednetwork ...": a component's command, unless prose names it ("the network is called x"), or
        // "network" is followed by a name on a line about Wi-Fi ("WifiConfigManager: Adding/Updating network Home").
        if ((linked && !terminal)
            || (kind == MarkerKind.SsidComponent && !naming && !(valueAt < s.Length && IsQuote(s[valueAt]))
                && (linked || !EndsWithWord(s[i..j], "network"u8) || !HasWifiContext(s, k))))
        {
            return false;
        }

        if (valueAt < s.Length && s[valueAt] is (byte)'=' or (byte)':' && linked)
        {
            // "password set to: x"
            return MatchExplicitValue(s, valueAt, kind, out valueStart, out end);
        }

        if (!MatchLooseValue(s, i, j, valueAt, kind, linked, out valueStart, out end))
        {
            return false;
        }

        // "$ mos wifi "Home Net" "pass"": a Wi-Fi command's quoted network, then a quoted passphrase as the line's last
        // argument; both go as one secret (each is remembered on its own).
        if (kind == MarkerKind.SsidComponent && IsQuote(s[valueStart]) && LastQuotedArgumentEnd(s, end) is var passEnd && passEnd > end)
        {
            kind = MarkerKind.Secret;
            end = passEnd;
        }

        return true;
    }

    // The end of a quoted argument after blanks at i that ends its line, or i.
    private static int LastQuotedArgumentEnd(ReadOnlySpan<byte> s, int i)
    {
        var next = SkipBlanks(s, i);
        if (next == i || next >= s.Length || !IsQuote(s[next]))
        {
            return i;
        }

        var end = QuotedEnd(s, next);
        var rest = SkipBlanks(s, end);
        return end > next + 2 && s[end - 1] == s[next] && (rest == s.Length || IsLineBreak(s[rest])) ? end : i;
    }

    // "starting connection 'Home'", "nmcli con up Home": a quoted profile name, or one after an nmcli verb.
    // "connection=keep-alive" and "profile: default" are something else.
    private static bool MatchProfileName(ReadOnlySpan<byte> s, int afterKey, int k, bool acceptsVerb, out int valueStart, out int end)
    {
        valueStart = end = k;
        if (k == afterKey || (!acceptsVerb && !IsQuote(s[k])))
        {
            return false;
        }

        if (!IsQuote(s[k]))
        {
            var verbEnd = k;
            while (verbEnd < s.Length && IsLetter(s[verbEnd]) && verbEnd - k < 8)
            {
                verbEnd++;
            }

            if (verbEnd == k || !MarkerGrammarWords.IsProfileVerb(s[k..verbEnd]))
            {
                return false;
            }

            k = SkipBlanks(s, verbEnd);
            if (k == verbEnd || k >= s.Length || IsLineBreak(s[k]) || (!IsQuote(s[k]) && !CanStartLooseValue(s[k])))
            {
                return false;
            }
        }

        valueStart = k;
        end = IsQuote(s[k]) ? QuotedEnd(s, k) : UnquotedEnd(s, k);
        return end > k + 1 && !IsPlaceholder(s[k..end]);
    }

    // Whether the quote before the identifier at i (across a dotted prefix: 'wifi.psk') matches the one after it.
    private static bool OpensQuotedKey(ReadOnlySpan<byte> s, int i, byte quote)
    {
        var b = i;
        while (b > 0 && i - b < MaxIdentifierLength && (IsWordByte(s[b - 1]) || s[b - 1] is (byte)'.' or (byte)'-'))
        {
            b--;
        }

        return b > 0 && s[b - 1] == quote;
    }

    // k is '=', ':' or "->": the value after it is taken whatever it is (the key=value syntax is certain).
    private static bool MatchExplicitValue(ReadOnlySpan<byte> s, int k, MarkerKind kind, out int valueStart, out int end)
    {
        valueStart = end = k;
        var separator = s[k] == '-' ? (byte)'=' : s[k];
        k += s[k] == '-' ? 2 : 1;

        // ":=", "==", "=>"
        if (k < s.Length && (s[k] == '=' || (separator == '=' && s[k] == '>')))
        {
            k++;
        }

        k = SkipBlanks(s, k);
        if (k >= s.Length)
        {
            return false;
        }

        valueStart = k;

        // "SN: 255.255.255.0" is a netmask, "AP: e8:48:b8:01:02:03" a BSSID: addresses are for the numeric rules.
        if (kind is MarkerKind.Serial or MarkerKind.Ssid && LooksNumeric(s, k))
        {
            return false;
        }

        if (kind == MarkerKind.Coordinate)
        {
            // A quoted number ("lat": "48.137361") is coarsened inside its quotes.
            var quoted = IsQuote(s[k]);
            valueStart = quoted ? k + 1 : k;
            if (valueStart >= s.Length)
            {
                return false;
            }

            end = MatchDecimal(s, valueStart);
            return end > valueStart && (!quoted || (end < s.Length && s[end] == s[k]));
        }

        if (IsQuote(s[k]))
        {
            end = QuotedEnd(s, k);
            return end - k <= 2 || !IsPlaceholder(s[k..end]);
        }

        // "Access points: ["Home", "Office"]", "ssids = ['a', 'b']": a list of quoted Wi-Fi names goes whole.
        if (kind == MarkerKind.Ssid && s[k] == '[' && k + 1 < s.Length && IsQuote(s[k + 1]))
        {
            end = QuotedListEnd(s, k);
            return end > k + 2;
        }

        // "Passphrase = [ Type=psk, ... ]", "{ ... }": a structure describing the field, not its value.
        if (s[k] is (byte)'[' or (byte)'{' or (byte)'(' && k + 1 < s.Length && s[k + 1] is (byte)' ' or (byte)'\n' or (byte)'\r')
        {
            return false;
        }

        // "wl_set_wsec_key: wsec_key 0123...": the value is itself a marker with a value of its own.
        var firstEnd = UnquotedEnd(s, k);
        if (firstEnd < s.Length && s[firstEnd] == ' ' && !IsAuthorizationScheme(s[k..firstEnd])
            && ClassifyIdentifier(s[k..firstEnd], 0, out var identifierEnd) is MarkerKind.Secret or MarkerKind.WeakSecret && identifierEnd == firstEnd - k)
        {
            return false;
        }

        // "wlan = network.WLAN(network.STA_IF)": a component's name assigned a call in code, not a Wi-Fi name.
        if (kind == MarkerKind.SsidComponent && LooksLikeCall(s, k))
        {
            return false;
        }

        // "wifi: psk=..." names a component followed by its own key=value pair, not a value.
        if (separator == ':' && LooksLikeAssignment(s, k))
        {
            return false;
        }

        // "wifi: scan done", "wifi:connected with ...": a component name before a message, not a Wi-Fi name; but
        // "Network: Home Net secured: WPA2 BSSID: 00:11:22:33:44:55 RSSI: -52" is a scan row naming a network.
        if (kind == MarkerKind.SsidComponent && (separator == ':' || s[k] == '{' || s[k] == '['))
        {
            if (separator != (byte)':' || s[k - 1] != ' ' || !IsBssidRow(s, k))
            {
                return false;
            }

            end = SsidClauseEnd(s, k);
            return end > k;
        }

        // An unquoted Wi-Fi name may hold blanks ("WIFI_SSID=Casa Rossi WIFI_PASS=..."): it runs to the end of its
        // clause after '=' as after ':'.
        end = kind == MarkerKind.Ssid ? SsidClauseEnd(s, k) : UnquotedEnd(s, k);

        // "Encryption key:off", "psk=<hidden>", "SSID: [redacted]": a state or a placeholder, not a value.
        if (IsPlaceholder(s[k..UnquotedEnd(s, k)])
            || (kind is MarkerKind.Secret or MarkerKind.WeakSecret && MarkerGrammarWords.IsSwitchWord(TrimSentenceEnd(s[k..end]))))
        {
            return false;
        }

        // "Authorization: Bearer eyJ...": the scheme names the credential that follows it.
        if (kind is MarkerKind.Secret or MarkerKind.WeakSecret && end + 1 < s.Length && s[end] == ' ' && !IsValueStop(s[end + 1])
            && IsAuthorizationScheme(s[k..end]))
        {
            end = UnquotedEnd(s, end + 1);
        }

        return end > k;
    }

    // The value after blanks or prose: taken when it is not an ordinary word of log prose.
    private static bool MatchLooseValue(ReadOnlySpan<byte> s, int markerStart, int markerEnd, int k, MarkerKind kind, bool linked, out int valueStart, out int end)
    {
        valueStart = end = k;
        if (k >= s.Length || IsLineBreak(s[k]))
        {
            return false;
        }

        // "wapi psk wlan0 x 3", "wapi essid wlan0 "x" 1": a command names the interface before the value; the
        // value is the next argument (an interface name alone on its line is left to the value rules).
        if (kind is MarkerKind.Secret or MarkerKind.WeakSecret or MarkerKind.Ssid && !linked)
        {
            var interfaceEnd = UnquotedEnd(s, k);
            var next = SkipBlanks(s, interfaceEnd);
            if (IsInterfaceName(s[k..interfaceEnd]) && next > interfaceEnd && next < s.Length && !IsLineBreak(s[next]))
            {
                valueStart = end = k = next;
            }
        }

        if (IsQuote(s[k]))
        {
            if (kind == MarkerKind.Coordinate)
            {
                return false;
            }

            end = QuotedEnd(s, k);

            // "key 'wifi.psk' = 'x'": a quoted marker is the key of its own value.
            if (IsPlaceholder(s[k..end]) || (end - k > 2 && s[end - 1] == s[k] && MarkerGrammarWords.IsMarkerWord(s[(k + 1)..(end - 1)])))
            {
                return false;
            }

            end = IsWpaPassphraseCommand(s[markerStart..markerEnd]) ? NextArgumentEnd(s, end) : end;
            return end > k + 1;
        }

        if (kind == MarkerKind.Coordinate)
        {
            // "lat 48.137361"
            end = MatchDecimal(s, k);
            return end > k && s[k..end].Contains((byte)'.');
        }

        // "wifi scan done", "network unreachable": a component name followed by its message (but "the network is
        // called x" names it).
        if (!CanStartLooseValue(s[k]) || LooksLikeLooseField(s, k))
        {
            return false;
        }

        var tokenEnd = UnquotedEnd(s, k);
        var token = TrimSentenceEnd(s[k..tokenEnd]);
        if (token.IsEmpty)
        {
            return false;
        }

        // "password for Home Net: x", "the passphrase of 'Home' is x": what stands between is removed with the
        // value (it names the network the secret opens).
        if (kind is MarkerKind.Secret or MarkerKind.WeakSecret && (IsWord(token, "for"u8) || IsWord(token, "of"u8)))
        {
            return MatchForClause(s, tokenEnd, out valueStart, out end);
        }

        if (IsProseWord(token) || MarkerGrammarWords.IsMarkerWord(token) || MarkerGrammarWords.IsRadioWord(token))
        {
            return false;
        }

        if (kind == MarkerKind.WeakSecret && (token.Length < MinWeakValueLength || !HasNonLetter(token)) && !IsAuthorizationScheme(token))
        {
            return false;
        }

        if (kind is MarkerKind.Ssid or MarkerKind.SsidComponent)
        {
            // "bssid 00:11:22:33:44:55" and addresses are for the numeric rules; "set_network 0 psk" names an id.
            if (LooksNumeric(s, k) || (kind == MarkerKind.SsidComponent && !HasLetter(token)))
            {
                return false;
            }

            end = SsidClauseEnd(s, k);
            return true;
        }

        end = tokenEnd;
        if (IsAuthorizationScheme(token) && end + 1 < s.Length && s[end] == ' ' && !IsValueStop(s[end + 1]))
        {
            end = UnquotedEnd(s, end + 1);
        }
        else if (IsWpaPassphraseCommand(s[markerStart..markerEnd]))
        {
            end = NextArgumentEnd(s, end);
        }

        return end > k;
    }

    // A network interface's name: a known prefix, then a number, perhaps more letters and digits ("wlan0", "wlp2s0",
    // "wlx00c0ca", "en0", "sta0", "ath0", "mlan0", "wl0.1").
    internal static bool IsInterfaceName(ReadOnlySpan<byte> token)
    {
        if (token.Length is < 3 or > 15)
        {
            return false;
        }

        var letters = 0;
        while (letters < token.Length && IsLower(token[letters]))
        {
            letters++;
        }

        if (letters == token.Length || !IsDigit(token[letters]) || !MarkerGrammarWords.IsInterfacePrefix(token[..letters]))
        {
            // "wlx00c0ca...": a USB adapter's name holds its MAC after "wlx".
            return letters == 3 && token.Length > 3 && token[..3].SequenceEqual("wlx"u8) && (IsDigit(token[3]) || token[3] is >= (byte)'a' and <= (byte)'f');
        }

        foreach (var b in token[letters..])
        {
            if (!IsAlphanumeric(b) && b != '.')
            {
                return false;
            }
        }

        return true;
    }

    // The end of "["a", 'b', ...]" at k: after its ']', or k when the brackets hold anything but quoted items.
    private static int QuotedListEnd(ReadOnlySpan<byte> s, int k)
    {
        var j = k + 1;
        while (j < s.Length && j - k < MaxContextSearch)
        {
            j = SkipBlanks(s, j);
            if (j >= s.Length || !IsQuote(s[j]))
            {
                return k;
            }

            j = SkipBlanks(s, QuotedEnd(s, j));
            if (j < s.Length && s[j] == ']')
            {
                return j + 1;
            }

            if (j >= s.Length || s[j] != ',')
            {
                return k;
            }

            j++;
        }

        return k;
    }

    // "network.WLAN(", "wifi.radio.connect(": a dotted name called with arguments.
    private static bool LooksLikeCall(ReadOnlySpan<byte> s, int k)
    {
        var j = k;
        while (j < s.Length && j - k < MaxIdentifierLength && (IsWordByte(s[j]) || s[j] == '.'))
        {
            j++;
        }

        return j > k && j < s.Length && s[j] == '(' && s[k..j].IndexOf((byte)'.') > 0;
    }

    /// <summary>
    /// A Wi-Fi name in iwd's profile file name (<c>/var/lib/iwd/=&lt;name in hex&gt;.psk</c>, used for names
    /// with characters other than letters, digits, '-' and '_'): <paramref name="p"/> is the '=' after the '/'.
    /// </summary>
    internal static bool MatchHexProfileFile(ReadOnlySpan<byte> s, int p, out int end)
    {
        end = p + 1;
        if (p == 0 || s[p - 1] != '/')
        {
            return false;
        }

        while (end < s.Length && end - p <= 65 && IsHexByte(s[end]))
        {
            end++;
        }

        var hex = end - p - 1;
        return hex >= 2 && hex % 2 == 0 && end < s.Length && s[end] == '.'
            && (StartsWithWord(s, end + 1, "psk"u8) || StartsWithWord(s, end + 1, "open"u8) || StartsWithWord(s, end + 1, "8021x"u8));
    }

    private static bool StartsWithWord(ReadOnlySpan<byte> s, int i, ReadOnlySpan<byte> lowercase) =>
        i + lowercase.Length <= s.Length && IsLowerWord(s.Slice(i, lowercase.Length), lowercase)
        && (i + lowercase.Length == s.Length || !IsWordByte(s[i + lowercase.Length]));

    /// <summary>
    /// A captive portal's one-letter query parameters (<c>/wifisave?s=Home&amp;p=pass</c>): <c>s</c> names the network and
    /// <c>p</c> is its passphrase, but only where the URL's path speaks of Wi-Fi. <paramref name="p"/> is the '='.
    /// </summary>
    internal static bool MatchWifiQueryParameter(ReadOnlySpan<byte> s, int p, out ArgumentRole role, out int end)
    {
        role = ArgumentRole.None;
        end = p + 1;
        if (p < 2 || s[p - 2] is not ((byte)'?' or (byte)'&') || (s[p - 1] | 0x20) is not ((byte)'s' or (byte)'p'))
        {
            return false;
        }

        // The path: back from the query to a blank, a quote or the line's start.
        var b = p - 2;
        while (b > 0 && p - b < MaxContextSearch && s[b - 1] is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'"' or (byte)'\''))
        {
            b--;
        }

        if (!ContainsIgnoringCase(s[b..p], "wifi"u8))
        {
            return false;
        }

        while (end < s.Length && s[end] is not ((byte)'&' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'"' or (byte)'\'' or (byte)'#'))
        {
            end++;
        }

        role = (s[p - 1] | 0x20) == 's' ? ArgumentRole.WifiName : ArgumentRole.Secret;
        return end > p + 1;
    }

    // Whether a "BSSID" field with a MAC follows on the line after k (a scan row: name, then the access point's BSSID).
    private static bool IsBssidRow(ReadOnlySpan<byte> s, int k)
    {
        var stop = k;
        while (stop < s.Length && stop - k < MaxContextSearch && !IsLineBreak(s[stop]))
        {
            stop++;
        }

        var line = s[k..stop];
        for (var b = line.IndexOf((byte)':'); b >= 0 && b < line.Length; b = NextColon(line, b))
        {
            var key = b;
            while (key > 0 && IsLetter(line[key - 1]))
            {
                key--;
            }

            var mac = SkipBlanks(line, b + 1);
            if (b - key == 5 && mac < line.Length && Ascii.EqualsIgnoreCase(line[key..b], "bssid"u8) && MatchMac(line, mac, out _))
            {
                return true;
            }
        }

        return false;
    }

    private static int NextColon(ReadOnlySpan<byte> line, int b)
    {
        var next = line[(b + 1)..].IndexOf((byte)':');
        return next < 0 ? -1 : b + 1 + next;
    }

    // "wpa_passphrase <ssid> <passphrase>": the command names the network, then its passphrase; both go.
    private static int NextArgumentEnd(ReadOnlySpan<byte> s, int end)
    {
        var next = SkipBlanks(s, end);
        if (next == end || next >= s.Length || IsLineBreak(s[next]))
        {
            return end;
        }

        return IsQuote(s[next]) ? QuotedEnd(s, next) : UnquotedEnd(s, next);
    }

    // After "password for": the name up to ':' / '=' / "is" / "to" (within the clause), then the value.
    private static bool MatchForClause(ReadOnlySpan<byte> s, int i, out int valueStart, out int end)
    {
        valueStart = end = SkipBlanks(s, i);
        var j = valueStart;
        while (j < s.Length && j - valueStart < MaxForClause && !IsLineBreak(s[j]) && s[j] is not ((byte)',' or (byte)';'))
        {
            if (IsQuote(s[j]))
            {
                j = QuotedEnd(s, j);
                continue;
            }

            int valueAt;
            if (s[j] is (byte)':' or (byte)'=')
            {
                valueAt = SkipBlanks(s, j + 1);
            }
            else if (j > valueStart && s[j - 1] == ' ' && (WordIs(s, j, "is"u8) || WordIs(s, j, "to"u8) || WordIs(s, j, "was"u8)))
            {
                valueAt = SkipBlanks(s, j + (s[j] is (byte)'w' or (byte)'W' ? 3 : 2));
            }
            else
            {
                j++;
                continue;
            }

            if (valueAt >= s.Length || IsLineBreak(s[valueAt]))
            {
                return false;
            }

            end = IsQuote(s[valueAt]) ? QuotedEnd(s, valueAt) : UnquotedEnd(s, valueAt);
            var value = TrimSentenceEnd(s[valueAt..end]);
            return !value.IsEmpty && !IsProseWord(value);
        }

        return false;
    }

    private static bool WordIs(ReadOnlySpan<byte> s, int i, ReadOnlySpan<byte> lowercase) =>
        i + lowercase.Length <= s.Length && IsLowerWord(s.Slice(i, lowercase.Length), lowercase)
        && (i + lowercase.Length == s.Length || s[i + lowercase.Length] is (byte)' ' or (byte)'\t');

    // Skips linking words after a marker: "is", "was", "to", "set to", "changed to", "value" (NetworkManager's
    // "added 'psk' value '...'"), "any" after a WPS PIN ("wps_pin any 12345670"). Returns whether any was skipped;
    // terminal says whether the last one ends the joint (a value follows "is" or "to", not "changed").
    private static bool SkipLinkWords(ReadOnlySpan<byte> s, int k, MarkerKind kind, out int valueAt, out bool terminal, out bool naming)
    {
        valueAt = k;
        terminal = true;
        naming = false;
        var linked = false;
        for (var n = 0; n < MaxLinkWords; n++)
        {
            var wordEnd = k;
            while (wordEnd < s.Length && IsLetter(s[wordEnd]) && wordEnd - k < 12)
            {
                wordEnd++;
            }

            if (wordEnd == k || wordEnd >= s.Length || s[wordEnd] is not ((byte)' ' or (byte)'\t'))
            {
                break;
            }

            var word = s[k..wordEnd];
            var link = MarkerGrammarWords.LinkWordOf(word);
            if (link == LinkWord.None || (link == LinkWord.Any && kind != MarkerKind.Secret))
            {
                break;
            }

            linked = true;
            naming = IsWord(word, "called"u8) || IsWord(word, "named"u8);
            terminal = link switch
            {
                LinkWord.Verb => false,
                LinkWord.Neutral => terminal,
                _ => true,
            };
            k = SkipBlanks(s, wordEnd);
            valueAt = k;
        }

        return linked;
    }

    /// <summary>
    /// A Wi-Fi name announced by a verb: "associated with 'x'", "connected to x" (with Wi-Fi words on the line),
    /// "nmcli dev wifi connect x". <paramref name="p"/> is the blank after the verb or its preposition.
    /// </summary>
    internal static bool MatchAnnouncedNetwork(ReadOnlySpan<byte> s, int wordStart, int p, out int valueStart, out int end)
    {
        valueStart = end = p;
        var word = s[wordStart..p];
        if (MarkerGrammarWords.IsConnectPreposition(word))
        {
            var previous = PreviousWord(s, wordStart);
            if (previous.IsEmpty || !MarkerGrammarWords.IsConnectVerb(previous))
            {
                return false;
            }
        }
        else if (!MarkerGrammarWords.IsBareConnectVerb(word))
        {
            return false;
        }
        else if (IsWord(word, "connecting"u8) && (StartsWithProseWord(s, SkipBlanks(s, p)) || !HasWifiContext(s, p)))
        {
            // "WIFI : Connecting Home Net attempt #0": the progressive names its object only on a line about Wi-Fi
            // ("connecting to x" is the preposition's; the line is looked at last, being the dearest test).
            return false;
        }

        var k = SkipBlanks(s, p);

        // "connected to the wireless network 'x'", "joined network x": nouns between the verb and the name.
        var nouns = false;
        var articles = false;
        for (var n = 0; n < 3 && k < s.Length; n++)
        {
            var e = k;
            while (e < s.Length && (IsLetter(s[e]) || s[e] == '-' || IsDigit(s[e])) && e - k < 16)
            {
                e++;
            }

            // "AP1", "wlan0": a noun may carry an index.
            var noun = e;
            while (noun > k + 1 && IsDigit(s[noun - 1]))
            {
                noun--;
            }

            if (e == k || !MarkerGrammarWords.IsNetworkNoun(s[k..noun]))
            {
                // "connect to a suitable AP": an article leads to a noun of its own, not to a name.
                if (articles)
                {
                    return false;
                }

                break;
            }

            articles = MarkerGrammarWords.IsArticle(s[k..e]);
            nouns |= !articles;
            if (e < s.Length && s[e] is (byte)'=' or (byte)':')
            {
                // "connecting to WiFi: Home Net": a component word names the network after its colon; "connecting to
                // ssid=x", "connected to AP: x": the marker's own rule takes the value.
                var named = SkipBlanks(s, e + 1);
                if (s[e] == ':' && named > e + 1 && named < s.Length && !IsLineBreak(s[named])
                    && ClassifySegment(s[k..e]) == MarkerKind.SsidComponent && !IsProseWord(TrimSentenceEnd(s[named..UnquotedEnd(s, named)])))
                {
                    valueStart = named;
                    end = IsQuote(s[named]) ? QuotedEnd(s, named) : SsidClauseEnd(s, named);
                    return end > named;
                }

                return false;
            }

            k = SkipBlanks(s, e);
        }

        if (k >= s.Length || IsLineBreak(s[k]))
        {
            return false;
        }

        valueStart = k;
        if (IsQuote(s[k]))
        {
            end = QuotedEnd(s, k);
            return end > k + 1 && (nouns || HasWifiContext(s, k) || !LooksLikeHost(s[(k + 1)..Math.Max(k + 1, end - 1)]));
        }

        if (!CanStartLooseValue(s[k]) || LooksLikeField(s, k) || LooksNumeric(s, k))
        {
            return false;
        }

        // Without Wi-Fi words on the line, a verb's object may be a broker or a server: those are named by
        // infrastructure words, hosts or numbers; anything else is taken (the rule errs on removing).
        var tokenEnd = UnquotedEnd(s, k);
        var token = TrimSentenceEnd(s[k..tokenEnd]);
        if (token.IsEmpty || IsProseWord(token) || MarkerGrammarWords.IsMarkerWord(token) || LooksLikeHost(token)
            || (!nouns && (MarkerGrammarWords.IsInfrastructureWord(token) || !HasLetter(token))))
        {
            return false;
        }

        end = SsidClauseEnd(s, k);

        // "Connected to Arduino IoT Cloud": a clause that ends in an infrastructure word names a service, unless the
        // line speaks of Wi-Fi.
        return nouns || !MarkerGrammarWords.IsInfrastructureWord(TrimSentenceEnd(LastWord(s[k..end]))) || HasWifiContext(s, k);
    }

    private static bool StartsWithProseWord(ReadOnlySpan<byte> s, int k)
    {
        var e = k;
        while (e < s.Length && IsLetter(s[e]) && e - k < 16)
        {
            e++;
        }

        return e > k && IsProseWord(s[k..e]);
    }

    private static ReadOnlySpan<byte> LastWord(ReadOnlySpan<byte> clause)
    {
        var blank = clause.LastIndexOf((byte)' ');
        return blank < 0 ? clause : clause[(blank + 1)..];
    }

    // Whether the line around i speaks of Wi-Fi: a verb's object is a Wi-Fi name only there ("wifi: connected to
    // Home", not "cloud: connected to broker").
    internal static bool HasWifiContext(ReadOnlySpan<byte> s, int i)
    {
        var start = i;
        while (start > 0 && i - start < MaxContextSearch && !IsLineBreak(s[start - 1]))
        {
            start--;
        }

        var stop = i;
        while (stop < s.Length && stop - i < MaxContextSearch && !IsLineBreak(s[stop]))
        {
            stop++;
        }

        var line = s[start..stop];
        Span<byte> lower = stackalloc byte[2 * MaxContextSearch];
        Ascii.ToLower(line, lower, out var length);
        return MarkerGrammarWords.MentionsWifi(lower[..length]);
    }

    private static bool LooksLikeHost(ReadOnlySpan<byte> token) =>
        token.IndexOf("://"u8) >= 0
        || (token.IndexOf((byte)' ') < 0 && token.IndexOf((byte)'.') is > 0 and var dot && dot < token.Length - 1 && IsLetter(token[^1]));

    private static bool LooksNumeric(ReadOnlySpan<byte> s, int k) =>
        MatchMac(s, k, out _) || MatchIpv4(s, k, out _, out _, out _) || MatchIpv6(s, k, out _, out _, out _);

    // The word before i, across blanks: "access" for "access point", "WPS" for "WPS PIN".
    internal static ReadOnlySpan<byte> PreviousWord(ReadOnlySpan<byte> s, int i)
    {
        var e = i;
        while (e > 0 && i - e < 3 && s[e - 1] is (byte)' ' or (byte)'\t')
        {
            e--;
        }

        if (e == i)
        {
            return default;
        }

        var b = e;
        while (b > 0 && e - b < MaxIdentifierLength && (IsWordByte(s[b - 1]) || s[b - 1] == '-'))
        {
            b--;
        }

        return s[b..e];
    }

    // "Wi-Fi name", "WLAN SSID", "access point", "WPS PIN", "Wi-Fi key": a word that is a marker only after
    // another word.
    private static MarkerKind ClassifyByPreviousWord(ReadOnlySpan<byte> s, int i, int j)
    {
        var word = s[i..j];
        if (word.Length is < 3 or > 7)
        {
            return MarkerKind.None;
        }


        var previous = PreviousWord(s, i);
        if (previous.IsEmpty)
        {
            return MarkerKind.None;
        }

        if (IsWord(word, "name"u8))
        {
            return MarkerGrammarWords.IsWifiWord(previous) || MarkerGrammarWords.IsProfileWord(previous) ? MarkerKind.Ssid : MarkerKind.None;
        }

        if (IsWord(word, "point"u8) || IsWord(word, "points"u8))
        {
            return IsWord(previous, "access"u8) ? MarkerKind.Ssid : MarkerKind.None;
        }

        if (IsWord(word, "pin"u8))
        {
            return IsWord(previous, "wps"u8) || MarkerGrammarWords.IsWifiWord(previous) ? MarkerKind.Secret : MarkerKind.None;
        }

        if (IsWord(word, "key"u8))
        {
            return MarkerGrammarWords.IsKeyQualifier(previous) ? MarkerKind.Secret : MarkerKind.None;
        }

        // netsh's "Key Content : x".
        if (IsWord(word, "content"u8))
        {
            return IsWord(previous, "key"u8) ? MarkerKind.Secret : MarkerKind.None;
        }

        return MarkerKind.None;
    }

    // Scans an identifier (word bytes joined by '_' or '-') and classifies it by its last segment,
    // so "wifi_password", "wifi-psk", "apiKey" and "wpa2Psk" are markers but "monkey" and "keyboard" are not.
    internal static MarkerKind ClassifyIdentifier(ReadOnlySpan<byte> s, int i, out int end)
    {
        var j = i;
        var lastSegment = i;
        var previousSegment = i;
        while (j < s.Length && (IsWordByte(s[j]) || s[j] == '-'))
        {
            if (j - i >= MaxIdentifierLength)
            {
                end = j;
                return MarkerKind.None;
            }

            if (j > i && (IsJoiner(s[j - 1]) || ((IsLower(s[j - 1]) || IsDigit(s[j - 1])) && IsUpper(s[j]))))
            {
                previousSegment = lastSegment;
                lastSegment = j;
            }

            j++;
        }

        // "wifi-" before "->": the dash belongs to the arrow.
        if (j > i && s[j - 1] == '-' && j < s.Length && s[j] == '>')
        {
            j--;
        }

        end = j;
        var last = s[lastSegment..j];

        // "WIRELESS_ESSID_1", "wl0_wpa_psk-2": an index after a joiner numbers the marker before it.
        if (lastSegment > i + 1 && IsJoiner(s[lastSegment - 1]) && last.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0)
        {
            return ClassifyIdentifier(s[..(lastSegment - 1)], i, out _);
        }

        var kind = ClassifySegment(last);
        if (kind == MarkerKind.None && last.Length > 1 && IsDigit(last[^1]))
        {
            // "wep_key0", "key1", "password2": a numbered marker.
            var letters = last.Length - 1;
            while (letters > 0 && IsDigit(last[letters - 1]))
            {
                letters--;
            }

            kind = ClassifySegment(last[..letters]);
        }
        if (lastSegment == i)
        {
            // A bare "pin" is a GPIO or a SIM; only a Wi-Fi PIN ("wps_pin", "WPS PIN") is a secret.
            return IsWord(last, "pin"u8) ? MarkerKind.None : kind;
        }

        var previousEnd = IsJoiner(s[lastSegment - 1]) ? lastSegment - 1 : lastSegment;
        var previous = s[previousSegment..previousEnd];

        // "WPA-PSK", "WPA2PSK", "FT-PSK": the name of an authentication method, not a key (but "wpa_psk=" is one).
        // A configuration line's key stands first on its line ("    wpa-psk "x"" in /etc/network/interfaces).
        if (IsWord(last, "psk"u8) && s[lastSegment - 1] != '_' && MarkerGrammarWords.IsAuthMethodPrefix(previous) && !StartsLine(s, i))
        {
            return MarkerKind.None;
        }

        // "scan_ssid=1", "ignore_broadcast_ssid=0": flags about SSIDs, not SSIDs.
        if (kind == MarkerKind.Ssid && MarkerGrammarWords.IsSsidFlagPrefix(previous))
        {
            return MarkerKind.None;
        }
        if (kind == MarkerKind.WeakSecret && IsWord(last, "key"u8))
        {
            // "wifi_key", "psk_key", "apiKey": the name says it is a key.
            return MarkerGrammarWords.IsKeyQualifier(previous) ? MarkerKind.Secret : kind;
        }

        if (IsWord(last, "pin"u8))
        {
            return IsWord(previous, "wps"u8) || MarkerGrammarWords.IsWifiWord(previous) ? MarkerKind.Secret : MarkerKind.None;
        }

        if (kind == MarkerKind.None && IsQualifier(last))
        {
            // "wifi_name", "wifiName": a Wi-Fi name; "serial_number", "serialNo": a serial; where "name" or "number"
            // alone is not.
            if (IsWord(last, "name"u8) && (MarkerGrammarWords.IsWifiWord(previous) || MarkerGrammarWords.IsProfileWord(previous)))
            {
                return MarkerKind.Ssid;
            }

            if (!IsWord(last, "name"u8) && IsWord(previous, "serial"u8))
            {
                return MarkerKind.Serial;
            }
        }

        // "wifi_network", "wlan_ssid" are names; "ap_ssid" too.
        if (kind == MarkerKind.SsidComponent && IsWord(last, "network"u8) && MarkerGrammarWords.IsWifiWord(previous))
        {
            return MarkerKind.Ssid;
        }

        // A secret marker qualified by anything ("sta-pass", "wlan_psk", "mqtt_token") is a certain secret marker.
        return kind == MarkerKind.WeakSecret ? MarkerKind.Secret : kind;
    }

    // Only blanks stand between the start of the line and i.
    private static bool StartsLine(ReadOnlySpan<byte> s, int i)
    {
        var b = i;
        while (b > 0 && s[b - 1] is (byte)' ' or (byte)'\t')
        {
            b--;
        }

        return b == 0 || IsLineBreak(s[b - 1]);
    }

    // The last segments that qualify the one before them ("wifi_name", "serial_number").
    internal static bool IsQualifier(ReadOnlySpan<byte> segment) =>
        IsWord(segment, "name"u8) || IsWord(segment, "number"u8) || IsWord(segment, "no"u8) || IsWord(segment, "num"u8);

    // Markers are matched whole and case-insensitively, picked by length and first letter so that the common
    // case (an ordinary word before a blank, ':' or '=') costs two comparisons.
    internal static MarkerKind ClassifySegment(ReadOnlySpan<byte> segment)
    {
        if (segment.Length == 2)
        {
            // "AP 'Home' not found": an access point named in quotes.
            return IsLowerWord(segment, "sn"u8) ? MarkerKind.Serial : IsLowerWord(segment, "pw"u8) ? MarkerKind.WeakSecret
                : IsLowerWord(segment, "ap"u8) ? MarkerKind.Profile : MarkerKind.None;
        }

        if (segment.Length is < 3 or > 13)
        {
            return MarkerKind.None;
        }

        var first = segment[0] | 0x20;
        return (segment.Length, first) switch
        {
            // "pop": ESP-IDF's provisioning proof of possession.
            (3, 'p') => IsLowerWord(segment, "pwd"u8) || IsLowerWord(segment, "psk"u8) ? MarkerKind.Secret
                : IsLowerWord(segment, "pin"u8) || IsLowerWord(segment, "pop"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (3, 'k') => IsLowerWord(segment, "key"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (3, 'c') => IsLowerWord(segment, "con"u8) ? MarkerKind.Profile : MarkerKind.None,
            (3, 'l') => IsLowerWord(segment, "lat"u8) || IsLowerWord(segment, "lon"u8) || IsLowerWord(segment, "lng"u8) ? MarkerKind.Coordinate : MarkerKind.None,
            (4, 'p') => IsLowerWord(segment, "pass"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (4, 's') => IsLowerWord(segment, "ssid"u8) ? MarkerKind.Ssid : MarkerKind.None,
            // "wpa2 'x'": a passphrase after its security type (Android's "cmd wifi connect-network x wpa2 y").
            (4, 'w') => IsLowerWord(segment, "wifi"u8) || IsLowerWord(segment, "wlan"u8) ? MarkerKind.SsidComponent
                : IsLowerWord(segment, "wpa2"u8) || IsLowerWord(segment, "wpa3"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (4, 'i') => IsLowerWord(segment, "imei"u8) || IsLowerWord(segment, "imsi"u8) ? MarkerKind.Serial : MarkerKind.None,
            (5, 'i') => IsLowerWord(segment, "iccid"u8) ? MarkerKind.Serial : MarkerKind.None,
            (5, 'c') => IsLowerWord(segment, "creds"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (7, 'h') => IsLowerWord(segment, "hotspot"u8) ? MarkerKind.Ssid : MarkerKind.None,

            (7, 'p') when IsLowerWord(segment, "profile"u8) => MarkerKind.Profile,
            (10, 'c') when IsLowerWord(segment, "connection"u8) => MarkerKind.Profile,
            (6, 's') => IsLowerWord(segment, "secret"u8) ? MarkerKind.WeakSecret : IsLowerWord(segment, "serial"u8) ? MarkerKind.Serial : MarkerKind.None,
            (13, 'a') => IsLowerWord(segment, "authorization"u8) ? MarkerKind.Secret : MarkerKind.None,
            (5, 't') => IsLowerWord(segment, "token"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (5, 'e') => IsLowerWord(segment, "essid"u8) ? MarkerKind.Ssid : MarkerKind.None,
            (5, 's') => IsLowerWord(segment, "ssids"u8) ? MarkerKind.Ssid : MarkerKind.None,
            (6, 'p') => IsLowerWord(segment, "passwd"u8) ? MarkerKind.Secret : MarkerKind.None,
            (6, 'a') => IsLowerWord(segment, "apikey"u8) ? MarkerKind.Secret : MarkerKind.None,
            (6, 'b') => IsLowerWord(segment, "bearer"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (7, 'n') => IsLowerWord(segment, "network"u8) ? MarkerKind.SsidComponent : MarkerKind.None,
            (7, 'p') => IsLowerWord(segment, "passkey"u8) ? MarkerKind.Secret : MarkerKind.None,
            (8, 'p') => IsLowerWord(segment, "password"u8) ? MarkerKind.Secret : MarkerKind.None,
            (8, 'l') => IsLowerWord(segment, "latitude"u8) ? MarkerKind.Coordinate : MarkerKind.None,
            (9, 'l') => IsLowerWord(segment, "longitude"u8) ? MarkerKind.Coordinate : MarkerKind.None,
            (10, 'p') => IsLowerWord(segment, "passphrase"u8) ? MarkerKind.Secret : MarkerKind.None,
            (10, 'c') => IsLowerWord(segment, "credential"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            (11, 'c') => IsLowerWord(segment, "credentials"u8) ? MarkerKind.WeakSecret : MarkerKind.None,
            _ => MarkerKind.None,
        };
    }

    /// <summary>
    /// An option of a Wi-Fi command line before the blank at <paramref name="p"/> and its value: <c>-s</c> (the network)
    /// and <c>-p</c> (its passphrase) on a line about Wi-Fi (Zephyr's <c>wifi connect -s x -p y</c>, <c>wifi ap enable</c>),
    /// and macOS's <c>networksetup -setairportnetwork &lt;device&gt; &lt;network&gt; [password]</c>.
    /// </summary>
    internal static bool MatchWifiOption(ReadOnlySpan<byte> s, int p, out ArgumentRole role, out int valueStart, out int end)
    {
        role = ArgumentRole.None;
        valueStart = end = p;
        if (p < 2 || (p > 2 && s[p - 3] is not ((byte)' ' or (byte)'\t')))
        {
            return MatchAirportNetwork(s, p, out role, out valueStart, out end);
        }

        if (s[p - 2] != '-' || s[p - 1] is not ((byte)'s' or (byte)'p') || !HasWifiContext(s, p))
        {
            return false;
        }

        valueStart = SkipBlanks(s, p);
        if (valueStart >= s.Length || s[valueStart] is (byte)'-' or (byte)'\n' or (byte)'\r')
        {
            return false;
        }

        end = IsQuote(s[valueStart]) ? QuotedEnd(s, valueStart) : UnquotedEnd(s, valueStart);
        role = s[p - 1] == 's' ? ArgumentRole.WifiName : ArgumentRole.Secret;
        return end > valueStart;
    }

    // Commands whose positional arguments are a device (or node), then the network, then its password (both taken as
    // one value): macOS "networksetup -setairportnetwork en0 "Home Net" pass", and Matter's commissioning tool
    // "chip-tool pairing ble-wifi <node-id> <ssid> <password> <setup-pin-code> <discriminator>" (and "code-wifi").
    private static bool MatchAirportNetwork(ReadOnlySpan<byte> s, int p, out ArgumentRole role, out int valueStart, out int end)
    {
        role = ArgumentRole.None;
        valueStart = end = p;
        if (!IsNetworkArgumentsCommand(s, p))
        {
            return false;
        }

        var device = SkipBlanks(s, p);
        var deviceEnd = UnquotedEnd(s, device);
        valueStart = SkipBlanks(s, deviceEnd);
        if (deviceEnd == device || valueStart == deviceEnd || valueStart >= s.Length || s[valueStart] is (byte)'\n' or (byte)'\r')
        {
            return false;
        }

        end = NextArgumentEnd(s, IsQuote(s[valueStart]) ? QuotedEnd(s, valueStart) : UnquotedEnd(s, valueStart));
        role = ArgumentRole.Secret;
        return true;
    }

    // The word before p is one of the commands MatchAirportNetwork knows, standing alone.
    private static bool IsNetworkArgumentsCommand(ReadOnlySpan<byte> s, int p) =>
        EndsWithCommand(s, p, "-setairportnetwork"u8) || EndsWithCommand(s, p, "ble-wifi"u8) || EndsWithCommand(s, p, "code-wifi"u8)
        || EndsWithCommand(s, p, "wps_reg"u8);

    internal static bool EndsWithCommand(ReadOnlySpan<byte> s, int p, ReadOnlySpan<byte> command) =>
        p >= command.Length && Ascii.EqualsIgnoreCase(s[(p - command.Length)..p], command)
        && (p == command.Length || s[p - command.Length - 1] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'$');

    /// <summary>
    /// A quoted name at <paramref name="q"/> followed by a BSSID in brackets (<c>'Home Net' (00:11:22:33:44:55)</c>, as
    /// scan lists and connect messages describe a network); <paramref name="end"/> is after the closing quote.
    /// </summary>
    internal static bool MatchNamedBssid(ReadOnlySpan<byte> s, int q, out int end)
    {
        end = q;
        var close = QuotedEnd(s, q);
        if (close - q <= 2 || s[close - 1] != s[q])
        {
            return false;
        }

        var k = SkipBlanks(s, close);
        if (k + 1 < s.Length && s[k] == '(' && MatchMac(s, k + 1, out var macEnd) && macEnd < s.Length && s[macEnd] == ')')
        {
            end = close;
            return true;
        }

        // "(b'Home Net', b'\xf4\x92\xbf\x9a\x8b\xec', 6, -61, 3, False)" (MicroPython's scan), "["Home Net",
        // "00:11:22:33:44:55"]": a quoted name, then its BSSID as the next quoted item; the name is no MAC itself.
        if (k >= s.Length || s[k] != ',' || MatchMac(s, q + 1, out _) || MatchEscapedMac(s, q + 1, out _))
        {
            return false;
        }

        var m = SkipBlanks(s, k + 1);
        m += m < s.Length && s[m] == 'b' ? 1 : 0;
        if (m + 1 < s.Length && IsQuote(s[m]) && (MatchMac(s, m + 1, out macEnd) || MatchEscapedMac(s, m + 1, out macEnd))
            && macEnd < s.Length && s[macEnd] == s[m])
        {
            end = close;
            return true;
        }

        return false;
    }

    /// <summary>
    /// A MAC written as the six escaped bytes of a bytes literal (<c>\xf4\x92\xbf\x9a\x8b\xec</c>, as Python prints a
    /// BSSID); <paramref name="end"/> is after the last byte.
    /// </summary>
    internal static bool MatchEscapedMac(ReadOnlySpan<byte> s, int i, out int end)
    {
        end = i;
        for (var n = 0; n < 6; n++, end += 4)
        {
            if (end + 3 >= s.Length || s[end] != '\\' || s[end + 1] != 'x' || !IsHexByte(s[end + 2]) || !IsHexByte(s[end + 3]))
            {
                end = i;
                return false;
            }
        }

        return true;
    }

    private static bool IsHexByte(byte b) => IsDigit(b) || (b | 0x20) is >= (byte)'a' and <= (byte)'f';

    /// <summary>The inlined first step of <see cref="MayEndBeforeBlank"/>: the byte before the blank and the suffix bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool MayEndBeforeBlankQuick(ReadOnlySpan<byte> s, int p)
    {
        if (p < 2)
        {
            return p == 1 && MayEndBeforeBlank(s, p);
        }

        var c = s[p - 1];
        if (!IsLetter(c))
        {
            // "Passphrase? x": a prompt after a word.
            return (IsDigit(c) || IsQuote(c) || (c == '?' && IsLetter(s[p - 2]))) && MayEndBeforeBlank(s, c == '?' ? p - 1 : p);
        }

        // "-s", "-p" options of Wi-Fi commands.
        if (s[p - 2] == '-' && c is (byte)'s' or (byte)'p')
        {
            return true;
        }

        // "Connecting Home Net": checked on its own, so that every other word ending in "ing" fails the suffix bits.
        if (c is (byte)'g' or (byte)'G' && EndsWithConnecting(s, p))
        {
            return true;
        }

        var b = s[p - 2];
        var c2 = IsLetter(b) ? b & 31 : 0;
        var c1 = c2 != 0 && p >= 3 && IsLetter(s[p - 3]) ? s[p - 3] & 31 : 0;
        var index = (((c1 * 32) + c2) * 32) + (c & 31);
        return (BlankWordSuffixes[index >> 6] & (1UL << (index & 63))) != 0 && MayEndBeforeBlank(s, p);
    }

    private static bool EndsWithConnecting(ReadOnlySpan<byte> s, int p) =>
        p >= 10 && (s[p - 10] | 0x20) == 'c' && Ascii.EqualsIgnoreCase(s[(p - 10)..p], "connecting"u8) && (p == 10 || !IsLetter(s[p - 11]));

    /// <summary>
    /// A cheap filter for a blank at <paramref name="p"/>: whether the word before it (or its camel-case tail) has
    /// the length and first letter of a word that can be followed by a value across blanks, or ends in a quote.
    /// </summary>
    internal static bool MayEndBeforeBlank(ReadOnlySpan<byte> s, int p)
    {
        if (p == 0)
        {
            return false;
        }

        var e = p;
        if (IsQuote(s[e - 1]))
        {
            return true;
        }

        // "key1", "wpa2", "psk_1"
        while (e > 0 && p - e < 2 && IsDigit(s[e - 1]))
        {
            e--;
        }

        if (e < p && e > 1 && IsJoiner(s[e - 1]))
        {
            e--;
        }

        // The last three letters first: a bit test that most words before a blank fail.
        if (e == 0 || !IsLetter(s[e - 1]) || !HasBlankWordSuffix(s, e))
        {
            return false;
        }

        // macOS "networksetup -setairportnetwork ...", Matter's "chip-tool pairing ble-wifi ...".
        if (e == p && IsNetworkArgumentsCommand(s, p))
        {
            return true;
        }

        var a = e;
        var tail = e;
        while (a > 0 && e - a < 16 && IsLetter(s[a - 1]))
        {
            a--;
            if (a > 0 && IsUpper(s[a]) && IsLower(s[a - 1]) && tail == e)
            {
                tail = a;
            }
        }

        if (e - a < 2)
        {
            return false;
        }

        var filter = BlankWordFilter;
        if (filter[((e - a) * 32) + ((s[a] | 0x20) & 31)] != 0 && MarkerGrammarWords.IsBlankWord(s[a..e], PreviousWord(s, a)))
        {
            return true;
        }

        return tail != e && filter[((e - tail) * 32) + ((s[tail] | 0x20) & 31)] != 0 && MarkerGrammarWords.IsBlankWord(s[tail..e], default);
    }

    private static bool HasBlankWordSuffix(ReadOnlySpan<byte> s, int e)
    {
        var c3 = s[e - 1] & 31;
        var c2 = e >= 2 && IsLetter(s[e - 2]) ? s[e - 2] & 31 : 0;
        var c1 = c2 != 0 && e >= 3 && IsLetter(s[e - 3]) ? s[e - 3] & 31 : 0;
        var index = (((c1 * 32) + c2) * 32) + c3;
        return (BlankWordSuffixes[index >> 6] & (1UL << (index & 63))) != 0;
    }

    // The last three letters (fewer for shorter words) of every word in BlankWordFilter, as a bit set.
    private static readonly ulong[] BlankWordSuffixes = BuildBlankWordSuffixes();

    private static ulong[] BuildBlankWordSuffixes()
    {
        var bits = new ulong[32 * 32 * 32 / 64];
        foreach (var word in BlankWordList.Split(' '))
        {
            var c3 = word[^1] & 31;
            var c2 = word.Length >= 2 ? word[^2] & 31 : 0;
            var c1 = word.Length >= 3 ? word[^3] & 31 : 0;
            var index = (((c1 * 32) + c2) * 32) + c3;
            bits[index >> 6] |= 1UL << (index & 63);
        }

        return bits;
    }

    // The words after which a blank may lead to a value: markers, bare connect verbs and connect prepositions.
    private const string BlankWordList = MarkerGrammarWords.BlankMarkerWords + " " + MarkerGrammarWords.ConnectPrepositionWords;

    // By length (up to 16) and first letter: 1 where some word followed by a value across blanks has that shape.
    private static readonly byte[] BlankWordFilter = BuildBlankWordFilter();

    private static byte[] BuildBlankWordFilter()
    {
        var filter = new byte[17 * 32];
        foreach (var word in BlankWordList.Split(' '))
        {
            filter[(word.Length * 32) + (word[0] & 31)] = 1;
        }

        return filter;
    }

    // "wpa_passphrase <ssid> <passphrase>", "do_wifi_ssid_passphrase <ssid> <passphrase>": a command that names the
    // network before its secret.
    private static bool IsWpaPassphraseCommand(ReadOnlySpan<byte> identifier) =>
        Ascii.EqualsIgnoreCase(identifier, "wpa_passphrase"u8) || ContainsIgnoringCase(identifier, "ssid_pass"u8) || ContainsIgnoringCase(identifier, "ssid_psk"u8);

    private static bool EndsWithWord(ReadOnlySpan<byte> identifier, ReadOnlySpan<byte> lowercase) =>
        identifier.Length >= lowercase.Length && IsLowerWord(identifier[^lowercase.Length..], lowercase)
        && (identifier.Length == lowercase.Length || !IsLetter(identifier[^(lowercase.Length + 1)]));

    private static bool ContainsIgnoringCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> lowercase)
    {
        for (var k = 0; k + lowercase.Length <= text.Length; k++)
        {
            if (Ascii.EqualsIgnoreCase(text.Slice(k, lowercase.Length), lowercase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAuthorizationScheme(ReadOnlySpan<byte> word) =>
        IsWord(word, "bearer"u8) || IsWord(word, "basic"u8) || IsWord(word, "digest"u8);

    // A loose value starts like a word, a number or a symbol of a passphrase; not like a structure, an option
    // ("--psk"), a comment or a placeholder ("<hidden>", "(none)").
    private static bool CanStartLooseValue(byte b) =>
        !IsValueStop(b) && b is not ((byte)'(' or (byte)'[' or (byte)'{' or (byte)'<' or (byte)')' or (byte)']' or (byte)'}'
            or (byte)'-' or (byte)'#' or (byte)'|' or (byte)'/' or (byte)'.' or (byte)'>');

    // "<hidden>", "'<redacted>'", "****", "(null)": what a program prints instead of a value.
    private static bool IsPlaceholder(ReadOnlySpan<byte> value)
    {
        if (value.Length >= 2 && IsQuote(value[0]))
        {
            value = value[^1] == value[0] ? value[1..^1] : value[1..];
        }

        if (value.IsEmpty)
        {
            return true;
        }

        // "****", and a YAML reference to a secret stored elsewhere ("password: !secret wifi_password").
        if (value.IndexOfAnyExcept((byte)'*') < 0 || value.SequenceEqual("!secret"u8))
        {
            return true;
        }

        // "<hidden>", "(null)", "[redacted]", and "[redacted" where the value ends at the bracket.
        if (value.Length <= 2 || value[0] is not ((byte)'<' or (byte)'(' or (byte)'['))
        {
            return false;
        }

        var inner = value[^1] is (byte)'>' or (byte)')' or (byte)']' ? value[1..^1] : value[1..];
        return MarkerGrammarWords.IsProseWord(inner);
    }

    private static bool HasLetter(ReadOnlySpan<byte> token)
    {
        foreach (var b in token)
        {
            if (IsLetter(b))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasNonLetter(ReadOnlySpan<byte> token)
    {
        foreach (var b in token)
        {
            if (!IsLetter(b))
            {
                return true;
            }
        }

        return false;
    }

    // "incorrect." and "failed," are the words "incorrect" and "failed".
    private static ReadOnlySpan<byte> TrimSentenceEnd(ReadOnlySpan<byte> token)
    {
        while (!token.IsEmpty && token[^1] is (byte)'.' or (byte)'!' or (byte)'?')
        {
            token = token[..^1];
        }

        return token;
    }

    private static bool IsProseWord(ReadOnlySpan<byte> token) => MarkerGrammarWords.IsProseWord(token);

    private static bool IsLineBreak(byte b) => b is (byte)'\n' or (byte)'\r';

    // An unclosed quote runs to the end of the line: a truncated secret is still a secret.
    internal static int QuotedEnd(ReadOnlySpan<byte> s, int i)
    {
        var quote = s[i];
        var j = i + 1;
        while (j < s.Length)
        {
            var c = s[j];
            if (c == quote)
            {
                return j + 1;
            }

            if (IsLineBreak(c))
            {
                return j;
            }

            j += c == '\\' && j + 1 < s.Length && !IsLineBreak(s[j + 1]) ? 2 : 1;
        }

        return s.Length;
    }

    /// <summary>
    /// The end of an unquoted Wi-Fi name that may hold blanks ("SSID: My Home Net rssi=-70", "connected with My
    /// Home Net, aid = 1"): the end of the clause (line end, ',', ';', a bracket, " - "), the next "key=" or
    /// "key:" field, the next marker word, or a word that names a radio measurement, whichever comes first.
    /// Prose words after the name are removed with it: the rule errs on removing.
    /// </summary>
    internal static int SsidClauseEnd(ReadOnlySpan<byte> s, int i)
    {
        var j = UnquotedEnd(s, i);
        while (j + 1 < s.Length && j - i < MaxClauseLength && s[j] is (byte)' ' or (byte)'\t')
        {
            var n = j + 1;
            var c = s[n];
            if (IsValueStop(c) || c is (byte)'(' or (byte)'[' or (byte)'<' or (byte)'|' || (c == '-' && n + 1 < s.Length && s[n + 1] == ' ')
                || LooksLikeField(s, n))
            {
                break;
            }

            var wordEnd = UnquotedEnd(s, n);
            var word = TrimSentenceEnd(s[n..wordEnd]);
            if (MarkerGrammarWords.IsMarkerWord(word) || MarkerGrammarWords.IsRadioWord(word))
            {
                break;
            }

            // "Home on channel 6", "Home with passphrase x": a preposition that introduces a radio word or a marker
            // ends the name.
            if (MarkerGrammarWords.IsPreposition(word) && wordEnd + 1 < s.Length && s[wordEnd] == ' ')
            {
                var nextEnd = UnquotedEnd(s, wordEnd + 1);
                var next = TrimSentenceEnd(s[(wordEnd + 1)..nextEnd]);
                if (MarkerGrammarWords.IsRadioWord(next) || MarkerGrammarWords.IsMarkerWord(next))
                {
                    break;
                }
            }

            j = wordEnd;
        }

        // A sentence's full stop (or an ellipsis) after the name is not part of it.
        if (j == s.Length || IsLineBreak(s[j]) || s[j] == ' ')
        {
            while (j > i + 1 && s[j - 1] == '.')
            {
                j--;
            }
        }

        return j;
    }

    // After blanks, "scan_ssid=1" or "key: x" starts a field of its own, but "Wir.Sind.Da:2023" (no blank after the
    // colon) or "s:Kiwi1234" (one letter) is a value.
    private static bool LooksLikeLooseField(ReadOnlySpan<byte> s, int i)
    {
        if (!LooksLikeField(s, i, minLength: 2))
        {
            return false;
        }

        var j = i;
        while (j < s.Length && s[j] is not ((byte)'=' or (byte)':'))
        {
            j++;
        }

        return s[j] == '=' || j + 1 == s.Length || s[j + 1] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';
    }

    internal static bool LooksLikeField(ReadOnlySpan<byte> s, int i, int minLength = 1)
    {
        var j = i;
        while (j < s.Length && (IsWordByte(s[j]) || s[j] == '-' || s[j] == '.') && j - i < MaxIdentifierLength)
        {
            j++;
        }

        return j - i >= minLength && j < s.Length && s[j] is (byte)'=' or (byte)':' && !(s[j] == ':' && j + 2 < s.Length && s[j + 1] == '/' && s[j + 2] == '/');
    }

    /// <summary>
    /// An unquoted value ends at a blank, ',' or ';'; at '&amp;' only where a query parameter follows
    /// ("token=abc&amp;user=x": a passphrase may contain '&amp;', "Tr0ub4dor&amp;3"); at a closing ')', ']' or '}' only
    /// where that bracket closes a structure (blank, punctuation or the end after it), so "(psk=abc)" keeps its
    /// bracket and "abc)def" stays one value.
    /// </summary>
    internal static int UnquotedEnd(ReadOnlySpan<byte> s, int i)
    {
        var j = i;
        while (j < s.Length)
        {
            var c = s[j];
            if (IsValueStop(c))
            {
                if (c == '&' && LooksLikeAssignment(s, j + 1))
                {
                    break;
                }

                if (c != '&')
                {
                    break;
                }
            }
            else if (c is (byte)')' or (byte)']' or (byte)'}' && (j + 1 == s.Length || !IsAlphanumeric(s[j + 1])))
            {
                break;
            }

            j++;
        }

        return j;
    }

    internal static bool LooksLikeAssignment(ReadOnlySpan<byte> s, int i)
    {
        var j = i;
        while (j < s.Length && (IsWordByte(s[j]) || s[j] == '-') && j - i < MaxIdentifierLength)
        {
            j++;
        }

        return j > i && j < s.Length && s[j] == '=';
    }
}
