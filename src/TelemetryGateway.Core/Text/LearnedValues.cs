using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// Wi-Fi names and secrets a log has revealed after a marker, remembered for the rest of that log so a later bare
/// occurrence ("Rotated-Q3!" printed alone by <c>nmcli -g</c>, a name in a <c>wpa_cli list_networks</c> row) is
/// removed too: a pattern can never know every syntax, but a value once seen is recognised whatever surrounds it.
/// </summary>
/// <remarks>
/// <para>Matched ignoring ASCII case, as a whole word (never inside a longer word, so ordinary text that contains a
/// value's letters is not mangled), raw or in the percent- or plus-encoded form of a URL or query string.</para>
/// <para>Values shorter than <see cref="MinLength"/> bytes or made of digits only are not learned: they are too
/// likely to be ordinary text ("admin", "1234"). Memory is fixed: at most <see cref="MaxValues"/> values of at most
/// <see cref="MaxValueLength"/> bytes, the oldest replaced first. Nothing is allocated after construction.</para>
/// </remarks>
internal sealed class LearnedValues
{
    internal const int MinLength = 6;
    internal const int MaxValues = 64;
    internal const int MaxValueLength = 64;
    private const int SearchWindow = 4096;

    // Each value is kept lowercase, once raw and once URL-encoded when that differs.
    private const int Forms = 2;
    private const int Slots = MaxValues * Forms;

    private readonly byte[] _arena = new byte[Slots * 3 * MaxValueLength];
    private readonly int[] _lengths = new int[Slots];
    private readonly bool[] _secret = new bool[Slots];

    // The first two bytes (lowercase) of each slot's form, compared before the form itself.
    private readonly int[] _pairs = new int[Slots];

    // The first two bytes (lowercase) of every stored form, as a bit set: most candidate starts fail this test.
    private readonly ulong[] _firstPairs = new ulong[65536 / 64];

    // The first bytes of the stored forms, in both cases.
    private readonly bool[] _isFirstByte = new bool[256];

    // Whether a stored form begins with a byte other than an ASCII letter or digit: its start is then no word start.
    private bool _nonWordFirstByte;
    private int _next;

    /// <summary>Values learned since <see cref="Clear"/> (each counted once, whatever its forms).</summary>
    public int Count { get; private set; }

    /// <summary>Bumped on every learned value, so a scan in progress knows to look again.</summary>
    public int Version { get; private set; }

    public void Clear()
    {
        Array.Clear(_lengths);
        Array.Clear(_firstPairs);
        Array.Clear(_isFirstByte);
        _nonWordFirstByte = false;
        _next = 0;
        Count = 0;
        Version++;
    }

    /// <summary>
    /// Remembers <paramref name="value"/> (quotes around it are dropped) as a secret or a Wi-Fi name; returns false
    /// when it is too short, digits only, too long or already known.
    /// </summary>
    public bool Learn(ReadOnlySpan<byte> value, bool secret)
    {
        if (value.Length >= 2 && IsQuote(value[0]))
        {
            value = value[^1] == value[0] ? value[1..^1] : value[1..];
        }

        value = value.Trim((byte)' ');
        if (value.Length < MinLength || value.Length > MaxValueLength || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0
            || value.IndexOfAny((byte)'\n', (byte)'\r') >= 0 || value[0] == '[' || IndexOf(value, 0) >= 0)
        {
            return false;
        }

        var slot = _next;
        _next = (_next + Forms) % Slots;
        Store(slot, value, secret, encoded: false);
        Store(slot + 1, value, secret, encoded: true);
        Count = Math.Min(Count + 1, MaxValues);
        Version++;
        return true;
    }

    /// <summary>How many slots <see cref="TryGetValue"/> takes.</summary>
    public static int SlotCount => Slots;

    /// <summary>The value (lowercase, raw form) learned in <paramref name="slot"/>, if any.</summary>
    public bool TryGetValue(int slot, out ReadOnlySpan<byte> value, out bool secret)
    {
        // Raw forms are in even slots, their URL-encoded forms after them.
        var length = slot % Forms == 0 ? _lengths[slot] : 0;
        value = _arena.AsSpan(slot * 3 * MaxValueLength, length);
        secret = _secret[slot];
        return length > 0;
    }

    /// <summary>
    /// The start of the first learned value in <paramref name="s"/> at or after <paramref name="from"/>, as a whole
    /// word, with its <paramref name="length"/>; or, with a length of 0, where to look again: the end of the window
    /// searched (whole lines, about 4 KiB), or <paramref name="s"/>.Length.
    /// </summary>
    public int Find(ReadOnlySpan<byte> s, int from, out int length, out bool secret)
    {
        length = 0;
        secret = false;
        if (Count == 0 || from >= s.Length)
        {
            return s.Length;
        }

        var limit = WindowEnd(s, from);
        var line = s[..limit];
        var starts = new WordStarts(line, from, everyOtherByte: _nonWordFirstByte);
        while (starts.MoveNext(out var i, out var other) && i <= line.Length - MinLength)
        {
            if (MatchAt(line, i, other, out var start, out length, out secret))
            {
                return start;
            }
        }

        length = 0;
        secret = false;
        return limit;
    }

    /// <summary>Whether a value begins with a byte other than an ASCII letter or digit (see <see cref="WordStarts"/>).</summary>
    public bool NonWordFirstByte => _nonWordFirstByte;

    /// <summary>
    /// The end of the window <see cref="Find"/> searches from <paramref name="from"/>: whole lines, about 4 KiB (a value
    /// never spans lines), so a long block is searched in steps.
    /// </summary>
    public static int WindowEnd(ReadOnlySpan<byte> s, int from)
    {
        if (s.Length - from <= SearchWindow)
        {
            return s.Length;
        }

        var lineEnd = s[(from + SearchWindow)..].IndexOf((byte)'\n');
        return lineEnd < 0 ? s.Length : from + SearchWindow + lineEnd + 1;
    }

    /// <summary>
    /// A value this log revealed at place <paramref name="i"/> of a <see cref="WordStarts"/> search
    /// (<paramref name="other"/>: not a word start), or in the word after a percent-escape there: its
    /// <paramref name="start"/>, length and kind.
    /// </summary>
    public bool MatchAt(ReadOnlySpan<byte> line, int i, bool other, out int start, out int length, out bool secret)
    {
        start = i;
        if (IsCandidate(line, i, out length, out secret))
        {
            return true;
        }

        if (other && line[i] == '%' && i + 3 <= line.Length - MinLength && IsHex(line[i + 1]) && IsHex(line[i + 2])
            && IsCandidate(line, i + 3, out length, out secret))
        {
            start = i + 3;
            return true;
        }

        return false;
    }

    private bool IsCandidate(ReadOnlySpan<byte> line, int i, out int length, out bool secret)
    {
        length = 0;
        secret = false;
        var b = line[i];
        if (!_isFirstByte[b] || !HasFirstPair(Lower(b), Lower(line[i + 1])))
        {
            return false;
        }

        var slot = IndexOf(line, i);
        if (slot < 0)
        {
            return false;
        }

        length = _lengths[slot];
        secret = _secret[slot];
        return true;
    }

    private static byte Lower(byte b) => IsUpper(b) ? (byte)(b | 0x20) : b;

    private bool HasFirstPair(byte first, byte second)
    {
        var pair = (first << 8) | second;
        return (_firstPairs[pair >> 6] & (1UL << (pair & 63))) != 0;
    }

    // The slot of a learned form that s holds at i as a whole word, or -1.
    private int IndexOf(ReadOnlySpan<byte> s, int i)
    {
        if (i + 1 >= s.Length)
        {
            return -1;
        }

        var pair = (Lower(s[i]) << 8) | Lower(s[i + 1]);
        for (var slot = 0; slot < Slots; slot++)
        {
            var length = _lengths[slot];
            if (length == 0 || _pairs[slot] != pair || i + length > s.Length)
            {
                continue;
            }

            var form = _arena.AsSpan(slot * 3 * MaxValueLength, length);
            var end = i + length;
            if (EqualsIgnoringAsciiCase(s.Slice(i, length), form)
                && (end == s.Length || !IsAlphanumeric(s[end]) || !IsAlphanumeric(form[^1])))
            {
                return slot;
            }
        }

        return -1;
    }

    // UTF-8 beyond ASCII ("Café") is compared byte for byte; ASCII letters ignoring case. form is lowercase.
    private static bool EqualsIgnoringAsciiCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> form)
    {
        for (var k = 0; k < form.Length; k++)
        {
            var b = text[k];
            if ((IsUpper(b) ? (byte)(b | 0x20) : b) != form[k])
            {
                return false;
            }
        }

        return true;
    }

    private void Store(int slot, ReadOnlySpan<byte> value, bool secret, bool encoded)
    {
        var destination = _arena.AsSpan(slot * 3 * MaxValueLength, 3 * MaxValueLength);
        int length;
        if (encoded)
        {
            length = UrlEncode(value, destination);
            if (destination[..length].SequenceEqual(value))
            {
                // Nothing to encode: the raw form covers it.
                _lengths[slot] = 0;
                return;
            }
        }
        else
        {
            value.CopyTo(destination);
            length = value.Length;
        }

        foreach (ref var b in destination[..length])
        {
            b = IsUpper(b) ? (byte)(b | 0x20) : b;
        }

        _lengths[slot] = length;
        _secret[slot] = secret;
        AddFirstByte(destination[0]);
        var pair = (destination[0] << 8) | destination[1];
        _firstPairs[pair >> 6] |= 1UL << (pair & 63);
        _pairs[slot] = pair;
    }

    private void AddFirstByte(byte b)
    {
        _nonWordFirstByte |= !IsAlphanumeric(b);
        _isFirstByte[b] = true;
        _isFirstByte[IsLower(b) ? b & 0xDF : b] = true;
    }

    // The form a value takes in a query string: unreserved bytes as they are, ' ' as '+', the rest %XX.
    private static int UrlEncode(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        var n = 0;
        foreach (var b in value)
        {
            if (IsAlphanumeric(b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
            {
                destination[n++] = b;
            }
            else if (b == ' ')
            {
                destination[n++] = (byte)'+';
            }
            else
            {
                destination[n++] = (byte)'%';
                destination[n++] = "0123456789abcdef"u8[b >> 4];
                destination[n++] = "0123456789abcdef"u8[b & 0xF];
            }
        }

        return n;
    }
}
