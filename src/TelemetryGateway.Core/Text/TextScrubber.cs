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
    public void Scrub(ReadOnlySpan<byte> text)
    {
        var s = text;
        var emitted = 0;
        var i = 0;
        while (i < s.Length)
        {
            if (!_serial.IsEmpty && IsSerialAt(s, i))
            {
                Write(s[emitted..i]);
                Write(_serialReplacement);
                _counts.Serials++;
                i += _serial.Length;
                emitted = i;
                continue;
            }

            if (IsTokenStart(s, i))
            {
                var end = TryReplaceToken(s, i, emitted);
                if (end != i)
                {
                    i = emitted = end;
                    continue;
                }
            }

            i++;
        }

        Write(s[emitted..]);
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
            && ((s[i] ^ _serial[0]) & 0xDF) == 0
            && Ascii.EqualsIgnoreCase(s[i..end], _serial)
            && (_serial.Length >= MinSerialLengthInsideWords
                || ((i == 0 || !IsAlphanumeric(s[i - 1])) && (end == s.Length || !IsAlphanumeric(s[end]))));
    }

    // Returns the index after the replaced unit (everything before it already written), or i when nothing matched.
    private int TryReplaceToken(ReadOnlySpan<byte> s, int i, int emitted)
    {
        int end;
        if (IsWordByte(s[i]))
        {
            if (MatchMarker(s, i, out var kind, out var valueStart, out end))
            {
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

            if (MatchEmail(s, i, out end))
            {
                Write(s[emitted..i]);
                Write(EmailToken);
                _counts.EmailAddresses++;
                return end;
            }
        }

        if (!IsNumericStart(s, i))
        {
            return i;
        }

        return TryReplaceNumeric(s, i, emitted);
    }

    private int TryReplaceNumeric(ReadOnlySpan<byte> s, int i, int emitted)
    {
        if (MatchMac(s, i, out var end))
        {
            Write(s[emitted..i]);
            Write(MacToken);
            _counts.MacAddresses++;
            return end;
        }

        if (MatchIpv6(s, i, out var addressStart, out var addressEnd, out end)
            || MatchIpv4(s, i, out addressStart, out addressEnd, out end))
        {
            Write(s[emitted..addressStart]);
            WriteTruncatedIp(s[addressStart..addressEnd]);
            Write(s[addressEnd..end]);
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

    private void WriteTruncatedIp(ReadOnlySpan<byte> address)
    {
        _counts.IpAddresses++;
        Span<byte> scratch = stackalloc byte[ScratchLength];

        // The length check keeps TextRedaction.MaxOutputLength provable whatever format the truncation writes.
        if (IpTruncation.TryTruncate(address, _ipv4PrefixLength, _ipv6PrefixLength, scratch, out var n)
            && n <= ExpansionFactor * address.Length)
        {
            Write(scratch[..n]);
        }
        else
        {
            Write(IpToken);
        }
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
