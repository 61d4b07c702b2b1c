using System.Buffers;
using System.Text;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// One immutable snapshot of the values a site has revealed (<see cref="LearnedSecrets"/>), indexed to be found in an
/// output in one pass: each value in every form it takes in an output (raw, JSON-escaped as a device or
/// System.Text.Json writes it, percent- or plus-encoded as in a URL), compared ignoring ASCII case, as a whole word.
/// Searching allocates nothing; a new snapshot is built only when a value is learned or forgotten.
/// </summary>
public sealed class LearnedSecretSet
{
    /// <summary>Values shorter than this (in UTF-8 bytes) are too likely to be ordinary text ("admin", "guest").</summary>
    public const int MinLength = 6;

    /// <summary>Longer values are not learned: a Wi-Fi passphrase is at most 63 bytes, an e-mail address 254.</summary>
    public const int MaxLength = 256;

    // Forms are found by a key of their first bytes: 8 for forms of 8 bytes or more, 6 (MinLength) for shorter ones, so
    // values sharing a short prefix ("Haus-0001", "Haus-0002") do not share one long chain.
    private const int LongKey = 8;
    private const int BucketBits = 12;

    // Every form, lowercase, one after another; forms are sorted by the bucket of their first two bytes.
    private readonly byte[] _arena;
    private readonly int[] _formStart;
    private readonly int[] _formLength;
    private readonly int[] _formEntry;
    private readonly ulong[] _formKey;
    private readonly int[] _bucketStart;

    // The first two bytes (lowercase) of every form, as a bit set: most candidate starts fail this test.
    private readonly ulong[] _firstPairs = new ulong[65536 / 64];
    private readonly bool[] _isFirstByte = new bool[256];

    // Whether a form begins with a byte other than an ASCII letter or digit: its start is then no word start.
    private readonly bool _nonWordFirstByte;

    private static readonly SearchValues<byte> Alphanumerics =
        SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private LearnedSecretSet(LearnedSecrets.Entry[] entries)
    {
        Entries = entries;

        // Each entry's forms were made once, when it was learned; a form two encodings share (most values are plain
        // ASCII) is indexed once.
        var forms = new List<(byte[] Form, int Entry, int Bucket)>(entries.Length * 8);
        for (var e = 0; e < entries.Length; e++)
        {
            var first = forms.Count;
            foreach (var form in entries[e].Forms)
            {
                var duplicate = false;
                for (var f = first; f < forms.Count && !duplicate; f++)
                {
                    duplicate = forms[f].Form.AsSpan().SequenceEqual(form);
                }

                if (!duplicate)
                {
                    forms.Add((form, e, BucketOf(form)));
                }
            }
        }

        // Longer forms first within a bucket, so a value that extends another ("Casa-Rossi-5G", "Casa-Rossi") wins.
        forms.Sort((a, b) => a.Bucket != b.Bucket ? a.Bucket.CompareTo(b.Bucket) : b.Form.Length.CompareTo(a.Form.Length));
        _arena = new byte[forms.Sum(f => f.Form.Length)];
        _formStart = new int[forms.Count];
        _formLength = new int[forms.Count];
        _formEntry = new int[forms.Count];
        _formKey = new ulong[forms.Count];
        _bucketStart = new int[(1 << BucketBits) + 1];
        var offset = 0;
        for (var i = 0; i < forms.Count; i++)
        {
            var (form, entry, bucket) = forms[i];
            form.CopyTo(_arena, offset);
            _formStart[i] = offset;
            _formLength[i] = form.Length;
            _formEntry[i] = entry;
            _formKey[i] = Key(form, 0, KeyLength(form.Length));
            offset += form.Length;
            var pair = Pair(form);
            _firstPairs[pair >> 6] |= 1UL << (pair & 63);
            _isFirstByte[form[0]] = true;
            _isFirstByte[IsLower(form[0]) ? form[0] & 0xDF : form[0]] = true;
            _nonWordFirstByte |= !IsAlphanumeric(form[0]);
            _bucketStart[bucket + 1]++;
        }

        for (var b = 1; b < _bucketStart.Length; b++)
        {
            _bucketStart[b] += _bucketStart[b - 1];
        }
    }

    public static LearnedSecretSet Empty { get; } = new([]);

    /// <summary>How many values the set holds.</summary>
    public int Count => Entries.Length;

    internal LearnedSecrets.Entry[] Entries { get; }

    internal static LearnedSecretSet Of(LearnedSecrets.Entry[] entries) => entries.Length == 0 ? Empty : new(entries);

    /// <summary>
    /// Whether a value may be learned: at least <see cref="MinLength"/> bytes, not only digits, on one line, and not a
    /// marker some scrubber wrote ("[ssid]").
    /// </summary>
    public static bool IsLearnable(ReadOnlySpan<byte> value) =>
        value.Length is >= MinLength and <= MaxLength
        && value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0
        && value.IndexOfAny((byte)'\n', (byte)'\r') < 0
        && !(value[0] == '[' && value[^1] == ']');

    /// <summary>The index of the entry holding <paramref name="lowercase"/> exactly (already lowercase), or -1.</summary>
    internal int IndexOfValue(ReadOnlySpan<byte> lowercase)
    {
        if (lowercase.Length < 2 || Entries.Length == 0)
        {
            return -1;
        }

        if (lowercase.Length < MinLength)
        {
            return -1;
        }

        var bucket = BucketOf(lowercase);
        for (var f = _bucketStart[bucket]; f < _bucketStart[bucket + 1]; f++)
        {
            var entry = _formEntry[f];
            if (_formLength[f] == lowercase.Length && Entries[entry].Value.AsSpan().SequenceEqual(lowercase))
            {
                return entry;
            }
        }

        return -1;
    }

    /// <summary>
    /// The start of the first learned value in <paramref name="s"/> at or after <paramref name="from"/>, as a whole
    /// word (<paramref name="s"/>'s ends count as word boundaries), with its length and class; -1 when there is none.
    /// </summary>
    public int Find(ReadOnlySpan<byte> s, int from, out int length, out LearnedClass kind)
    {
        length = 0;
        kind = default;
        if (Entries.Length == 0)
        {
            return -1;
        }

        // Candidates are word starts only. An output is searched a string at a time, mostly a few bytes long, where
        // skipping a word at a time beats scanning blocks (Text.WordStarts, which long log text is searched with).
        var i = from;
        if (i > 0 && i < s.Length && IsAlphanumeric(s[i - 1]) && IsAlphanumeric(s[i]))
        {
            var boundary = s[i..].IndexOfAnyExcept(Alphanumerics);
            if (boundary < 0)
            {
                return -1;
            }

            i += boundary;
        }

        while (i <= s.Length - MinLength)
        {
            var b = s[i];
            if (MatchAt(s, i, !IsAlphanumeric(b), out var start, out length, out kind))
            {
                return start;
            }

            if (IsAlphanumeric(b))
            {
                var boundary = s[(i + 1)..].IndexOfAnyExcept(Alphanumerics);
                if (boundary < 0)
                {
                    break;
                }

                i += 1 + boundary;
                continue;
            }

            i++;
        }

        length = 0;
        return -1;
    }

    /// <summary>Whether a value begins with a byte other than an ASCII letter or digit (see <see cref="Text.WordStarts"/>).</summary>
    internal bool NonWordFirstByte => _nonWordFirstByte;

    /// <summary>
    /// A learned value at place <paramref name="i"/> of a <see cref="Text.WordStarts"/> search (<paramref name="other"/>:
    /// not a word start), or in the word after the escape there ("%22Haus+am+See%22", "\\"Casa\\""): its
    /// <paramref name="start"/>, length and class.
    /// </summary>
    internal bool MatchAt(ReadOnlySpan<byte> s, int i, bool other, out int start, out int length, out LearnedClass kind)
    {
        var b = s[i];
        start = i;
        if (_isFirstByte[b] && HasFirstPair(Lower(b), Lower(s[i + 1])) && Match(s, i, out length, out kind))
        {
            return true;
        }

        if (other && b == '%' && i + 3 + MinLength <= s.Length && IsHex(s[i + 1]) && IsHex(s[i + 2]) && Match(s, i + 3, out length, out kind))
        {
            start = i + 3;
            return true;
        }

        if (other && b == '\\' && i + 2 + MinLength <= s.Length && s[i + 1] is (byte)'n' or (byte)'t' or (byte)'r' or (byte)'"' && Match(s, i + 2, out length, out kind))
        {
            start = i + 2;
            return true;
        }

        length = 0;
        kind = default;
        return false;
    }

    /// <summary>
    /// Writes <paramref name="input"/> to <paramref name="output"/> with every learned value replaced by its class
    /// marker; with <paramref name="jsonStrings"/>, only inside the strings of a JSON document (names and values), so
    /// the document stays well formed. Returns how many values were replaced (nothing is written when none was).
    /// </summary>
    public int Scrub(ReadOnlySpan<byte> input, IBufferWriter<byte> output, bool jsonStrings) => Scrub(input, output, jsonStrings, keptClasses: 0);

    /// <summary>
    /// As <see cref="Scrub(ReadOnlySpan{byte}, IBufferWriter{byte}, bool)"/>, leaving values of the classes in
    /// <paramref name="keptClasses"/> (a bit per <see cref="LearnedClass"/>) as they are: the contact data an entry on
    /// consent keeps (<see cref="ConsentedContact"/>).
    /// </summary>
    internal int Scrub(ReadOnlySpan<byte> input, IBufferWriter<byte> output, bool jsonStrings, int keptClasses)
    {
        if (Entries.Length == 0)
        {
            return 0;
        }

        var replaced = 0;
        var emitted = 0;
        if (!jsonStrings)
        {
            ScrubRange(input, 0, input.Length, output, keptClasses, ref emitted, ref replaced);
        }
        else
        {
            var i = 0;
            while (i < input.Length)
            {
                var open = input[i..].IndexOf((byte)'"');
                if (open < 0)
                {
                    break;
                }

                var start = i + open + 1;
                var end = StringEnd(input, start);
                ScrubRange(input, start, end, output, keptClasses, ref emitted, ref replaced);
                i = end + 1;
            }
        }

        if (replaced > 0)
        {
            output.Write(input[emitted..]);
        }

        return replaced;
    }

    private void ScrubRange(ReadOnlySpan<byte> input, int start, int end, IBufferWriter<byte> output, int keptClasses, ref int emitted, ref int replaced)
    {
        var s = input[start..end];
        var at = 0;
        while ((at = Find(s, at, out var length, out var kind)) >= 0)
        {
            if ((keptClasses & (1 << (int)kind)) != 0)
            {
                at += length;
                continue;
            }
            output.Write(input[emitted..(start + at)]);
            output.Write(LearnedClassMarkers.Of(kind));
            replaced++;
            at += length;
            emitted = start + at;
        }
    }

    // The index of the quote closing the JSON string that starts at i (or the input's end).
    private static int StringEnd(ReadOnlySpan<byte> s, int i)
    {
        while (i < s.Length)
        {
            var next = s[i..].IndexOfAny((byte)'"', (byte)'\\');
            if (next < 0)
            {
                return s.Length;
            }

            i += next;
            if (s[i] == '"')
            {
                return i;
            }

            i += 2;
        }

        return s.Length;
    }

    private bool Match(ReadOnlySpan<byte> s, int i, out int length, out LearnedClass kind)
    {
        // Longer forms first: those keyed by 8 bytes, then the 6- and 7-byte ones.
        if (i + LongKey <= s.Length && MatchKeyed(s, i, LongKey, out length, out kind))
        {
            return true;
        }

        if (i + MinLength <= s.Length && MatchKeyed(s, i, MinLength, out length, out kind))
        {
            return true;
        }

        length = 0;
        kind = default;
        return false;
    }

    private bool MatchKeyed(ReadOnlySpan<byte> s, int i, int keyLength, out int length, out LearnedClass kind)
    {
        length = 0;
        kind = default;
        var key = Key(s, i, keyLength);
        var bucket = Bucket(key, keyLength);
        for (var f = _bucketStart[bucket]; f < _bucketStart[bucket + 1]; f++)
        {
            var formLength = _formLength[f];
            if (_formKey[f] != key || KeyLength(formLength) != keyLength || i + formLength > s.Length)
            {
                continue;
            }

            var form = _arena.AsSpan(_formStart[f], formLength);
            var end = i + formLength;
            if (EqualsIgnoringAsciiCase(s.Slice(i, formLength), form)
                && (end == s.Length || !IsAlphanumeric(s[end]) || !IsAlphanumeric(form[^1])))
            {
                length = formLength;
                kind = Entries[_formEntry[f]].Kind;
                return true;
            }
        }

        return false;
    }

    // The first keyLength bytes at i, ASCII letters lowercased, packed into one integer.
    private static ulong Key(ReadOnlySpan<byte> s, int i, int keyLength)
    {
        var key = 0UL;
        for (var k = 0; k < keyLength; k++)
        {
            key = (key << 8) | Lower(s[i + k]);
        }

        return key;
    }

    private static int KeyLength(int formLength) => formLength >= LongKey ? LongKey : MinLength;

    private static int BucketOf(ReadOnlySpan<byte> form) => Bucket(Key(form, 0, KeyLength(form.Length)), KeyLength(form.Length));

    private static int Bucket(ulong key, int keyLength) => (int)(((key + (ulong)keyLength) * 0x9E3779B97F4A7C15) >> (64 - BucketBits));

    /// <summary>
    /// The forms a value takes in an output, lowercase: raw; JSON-escaped minimally and as System.Text.Json's default
    /// encoder writes it (non-ASCII and HTML-sensitive characters as <c>\uXXXX</c>); percent- and plus-encoded; hex;
    /// and base64 (without its padding, so it matches padded or not; matched ignoring case like the rest, which errs
    /// on removing).
    /// </summary>
    internal static IEnumerable<byte[]> FormsOf(byte[] value, byte[] original)
    {
        yield return value;
        yield return JsonEscape(value, escapeNonAscii: false, htmlSafe: false);
        // Python's json.dumps and most C libraries with an ASCII option: non-ASCII as \uXXXX, a quote as \".
        yield return JsonEscape(value, escapeNonAscii: true, htmlSafe: false);
        // System.Text.Json's default encoder: HTML-sensitive characters and the quote as \uXXXX too.
        yield return JsonEscape(value, escapeNonAscii: true, htmlSafe: true);
        yield return UrlEncode(value, spaceAsPlus: true);
        yield return UrlEncode(value, spaceAsPlus: false);
        // Network stacks print SSIDs in hex (wpa_cli's wps_reg, iwd's profile file names, wpa_supplicant's ssid=<hex>),
        // and a value may be sent base64-encoded on its own.
        yield return Encoding.ASCII.GetBytes(Convert.ToHexStringLower(original));
        yield return Lowercase(Encoding.ASCII.GetBytes(Convert.ToBase64String(original).TrimEnd('=')));
    }

    /// <summary><paramref name="form"/> with its ASCII letters lowercased, in place.</summary>
    internal static byte[] Lowercase(byte[] form)
    {
        foreach (ref var b in form.AsSpan())
        {
            b = Lower(b);
        }

        return form;
    }

    private static byte[] JsonEscape(byte[] value, bool escapeNonAscii, bool htmlSafe)
    {
        var text = new StringBuilder();
        foreach (var c in Encoding.UTF8.GetString(value))
        {
            if (c is '"' or '\\' || c < 0x20 || (escapeNonAscii && c > 0x7E) || (htmlSafe && c is '<' or '>' or '&' or '\'' or '+' or '`'))
            {
                text.Append(c switch
                {
                    '"' when !htmlSafe => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\t' => "\\t",
                    _ => $"\\u{(int)c:x4}",
                });
            }
            else
            {
                text.Append(c);
            }
        }

        // ASCII letters only: "\u00C9" and "\u00c9" are the same escape, while "É" and "é" are different values.
        return Lowercase(Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static byte[] UrlEncode(byte[] value, bool spaceAsPlus)
    {
        var encoded = new List<byte>(value.Length * 3);
        foreach (var b in value)
        {
            if (IsAlphanumeric(b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
            {
                encoded.Add(b);
            }
            else if (b == ' ' && spaceAsPlus)
            {
                encoded.Add((byte)'+');
            }
            else
            {
                encoded.Add((byte)'%');
                encoded.Add("0123456789abcdef"u8[b >> 4]);
                encoded.Add("0123456789abcdef"u8[b & 0xF]);
            }
        }

        return [.. encoded];
    }

    private static bool EqualsIgnoringAsciiCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> form)
    {
        for (var k = 0; k < form.Length; k++)
        {
            if (Lower(text[k]) != form[k])
            {
                return false;
            }
        }

        return true;
    }

    private bool HasFirstPair(byte first, byte second)
    {
        var pair = (first << 8) | second;
        return (_firstPairs[pair >> 6] & (1UL << (pair & 63))) != 0;
    }

    private static int Pair(ReadOnlySpan<byte> form) => (form[0] << 8) | form[1];

    internal static byte Lower(byte b) => IsUpper(b) ? (byte)(b | 0x20) : b;
}
