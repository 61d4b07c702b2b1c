using System.Numerics;
using System.Runtime.Intrinsics;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The places a learned value may start in a text, in order: every word start (an ASCII letter or digit after a byte
/// that is neither, or at the start of the text) and every byte that may begin an escape a word hides behind
/// (<c>%</c>, <c>\</c>); or, for a set holding a value that itself begins with another byte ("_home_", "Ünter"),
/// every byte that is not a letter or digit. A value is matched as a whole word, so nothing else needs looking at;
/// a log's search for the values it and the site revealed (<see cref="TextScrubber"/>) visits only these.
/// </summary>
/// <remarks>
/// Found 32 bytes at a time: one compare per class gives a bit per byte, and a word start is a letter-or-digit bit
/// whose left neighbour's is clear, so a text is read once whatever its word lengths (calling a vectorized search once
/// per word instead costs more than the search itself on log text, whose words are a few bytes long). For spans of a
/// few bytes (the strings of a JSON output) setting up a block costs more than it saves: those are searched a word at
/// a time (<see cref="Learning.LearnedSecretSet.Find"/>).
/// </remarks>
internal ref struct WordStarts
{
    private const int Block = 32;

    private readonly ReadOnlySpan<byte> _text;

    // The start of the block the pending bits belong to, and where the next block starts.
    private int _blockStart;
    private int _next;
    private uint _pending;
    private bool _previousIsWord;
    private readonly bool _everyOtherByte;

    /// <summary>
    /// Places in <paramref name="text"/> from <paramref name="from"/> on (a word running through <paramref name="from"/>
    /// does not start there); with <paramref name="everyOtherByte"/>, every byte that is not a letter or digit too.
    /// </summary>
    public WordStarts(ReadOnlySpan<byte> text, int from, bool everyOtherByte)
    {
        _text = text;
        _everyOtherByte = everyOtherByte;
        _next = from;
        _blockStart = from;
        _pending = 0;
        _previousIsWord = from > 0 && from <= text.Length && IsWordByte(text[from - 1]);
    }

    /// <summary>
    /// The next place, and whether it is a byte other than a letter or digit (an escape byte, <c>%</c> or <c>\</c>, or
    /// any with <c>everyOtherByte</c>) rather than a word start; false at the end of the text.
    /// </summary>
    public bool MoveNext(out int position, out bool escape)
    {
        while (_pending == 0)
        {
            if (_next >= _text.Length)
            {
                position = _text.Length;
                escape = false;
                return false;
            }

            _blockStart = _next;
            _pending = !Vector256.IsHardwareAccelerated ? ScanScalar()
                : _text.Length - _next >= Block ? ScanBlock(_text.Slice(_next, Block), Block)
                : ScanLastBlock();
        }

        var offset = BitOperations.TrailingZeroCount(_pending);
        _pending &= _pending - 1;
        position = _blockStart + offset;
        escape = !IsWordByte(_text[position]);
        return true;
    }

    // Bits for the block at _next (its first valid bytes of block, the rest zero padding): word starts and others.
    private uint ScanBlock(scoped ReadOnlySpan<byte> block, int valid)
    {
        var bytes = Vector256.Create(block);
        var digits = Vector256.LessThan(bytes - Vector256.Create((byte)'0'), Vector256.Create((byte)10));
        var letters = Vector256.LessThan((bytes | Vector256.Create((byte)0x20)) - Vector256.Create((byte)'a'), Vector256.Create((byte)26));
        var words = (digits | letters).ExtractMostSignificantBits();
        var others = _everyOtherByte
            ? ~words
            : (Vector256.Equals(bytes, Vector256.Create((byte)'%')) | Vector256.Equals(bytes, Vector256.Create((byte)'\\'))).ExtractMostSignificantBits();
        var previous = (words << 1) | (_previousIsWord ? 1u : 0u);
        var bits = (words & ~previous) | others;
        _previousIsWord = (words >> (valid - 1) & 1) != 0;
        _next += valid;
        return valid == Block ? bits : bits & ((1u << valid) - 1);
    }

    // The last bytes, fewer than a block (short texts such as JSON strings are all tail): copied into a padded block.
    private uint ScanLastBlock()
    {
        Span<byte> block = stackalloc byte[Block];
        var valid = _text.Length - _next;
        _text[_next..].CopyTo(block);
        block[valid..].Clear();
        return ScanBlock(block, valid);
    }

    // Byte by byte, where vectors are not accelerated.
    private uint ScanScalar()
    {
        var end = Math.Min(_text.Length, _next + Block);
        var bits = 0u;
        for (var i = _next; i < end; i++)
        {
            var b = _text[i];
            var isWord = IsWordByte(b);
            if (isWord ? !_previousIsWord : _everyOtherByte || b is (byte)'%' or (byte)'\\')
            {
                bits |= 1u << (i - _next);
            }

            _previousIsWord = isWord;
        }

        _next = end;
        return bits;
    }

    private static bool IsWordByte(byte b) => (uint)(b - '0') < 10 || (uint)((b | 0x20) - 'a') < 26;
}
