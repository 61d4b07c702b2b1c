using System.Buffers;
using System.Text.Unicode;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// Scrubs device log text (UTF-8, lines ending in <c>\n</c>) as it streams in: Wi-Fi passphrases and other
/// secrets, Wi-Fi names, e-mail addresses, phone numbers and MAC addresses are replaced by markers such as
/// <c>[secret]</c>; IP addresses are truncated and coordinates coarsened as the rules say; the device's own serial
/// is kept, pseudonymized or dropped. Everything else (levels, timestamps, component names, measurements) is
/// copied byte for byte.
/// </summary>
/// <remarks>
/// <para>One instance per thread, reused: <see cref="Begin"/> starts a log, then <see cref="Process"/> is called
/// with each block of input, the last one with <c>isFinalBlock</c>. A line may span blocks and segments; the
/// scrubber keeps an incomplete trailing line internally, so memory stays constant for any input length, and
/// in steady state nothing is allocated.</para>
/// <para>A line longer than <see cref="LogScrubRules.MaxLineLength"/> is not held whole: its first
/// <c>MaxLineLength</c> bytes are cut back to the last blank that follows a letter (so no number, address or
/// value is cut in two), scrubbed and written, followed by <c>[truncated]</c>; the rest of that line is
/// discarded. Without such a blank the whole line becomes <c>[truncated]</c>. Each such line is counted in
/// <see cref="LogScrubCounts.TruncatedLines"/>.</para>
/// <para>Invalid UTF-8 anywhere in the input (also in a discarded part) makes <see cref="Process"/> return
/// <see cref="QuarantineReason.InvalidUtf8"/>; the caller then discards everything written for this log.</para>
/// <para>The serial is matched with ASCII case ignored. A serial of 8 bytes or more is matched anywhere, also
/// inside longer words (file names, host names, "SN" prefixes), because such a string occurs only as the serial;
/// a shorter one only as a whole word, so it cannot mangle ordinary words.</para>
/// </remarks>
public sealed class LogScrubber : IDisposable
{
    private const int MaxUtf8SequenceLength = 4;

    private readonly Pseudonymizer _pseudonymizer;
    private readonly byte[] _pseudonym;
    private readonly byte[] _utf8Pending = new byte[MaxUtf8SequenceLength];
    private readonly LearnedValues _learned = new();

    // The values the site revealed before this log, as of Begin (null: none).
    private Learning.LearnedSecretSet? _site;
    private readonly NameColumns _columns = new();
    private byte[] _serial = new byte[64];
    private byte[] _line = [];
    private LogScrubRules _rules = LogScrubRules.Default;
    private int _serialLength;
    private ReadOnlyMemory<byte> _serialReplacement;
    private int _lineLength;
    private int _utf8PendingLength;
    private bool _discardingLine;
    private QuarantineReason _quarantine;
    private LogScrubCounts _counts;

    public LogScrubber(Pseudonymizer pseudonymizer)
    {
        ArgumentNullException.ThrowIfNull(pseudonymizer);
        _pseudonymizer = pseudonymizer;
        _pseudonym = new byte[pseudonymizer.Length];
    }

    // A marker, not a pseudonym: the purpose may not even link lines of one device.
    private static readonly byte[] DeviceToken = "[device]"u8.ToArray();

    private static ReadOnlySpan<byte> TruncatedToken => "[truncated]"u8;

    /// <summary>What was scrubbed since <see cref="Begin"/>, by kind (counts, never values).</summary>
    public LogScrubCounts Counts => _counts;

    /// <summary>
    /// Starts a log. <paramref name="deviceSerialUtf8"/> is the device's serial (from the MQTT topic or the HTTP
    /// route; may be empty, then nothing is treated as the serial). <paramref name="site"/> are the values the site
    /// revealed before (removed wherever they stand, like the values this log reveals). Throws if
    /// <paramref name="rules"/> are invalid.
    /// </summary>
    public void Begin(ReadOnlySpan<byte> deviceSerialUtf8, LogScrubRules rules, Learning.LearnedSecretSet? site = null)
    {
        _site = site;
        ArgumentNullException.ThrowIfNull(rules);
        if (!rules.IsValid)
        {
            throw new ArgumentException("The log scrub rules are invalid: " + string.Join(" ", rules.Validate()), nameof(rules));
        }

        _rules = rules;
        if (_line.Length < rules.MaxLineLength + 1)
        {
            _line = new byte[rules.MaxLineLength + 1];
        }

        _serialLength = rules.Serial == SerialHandling.Keep ? 0 : deviceSerialUtf8.Length;
        if (_serialLength > 0)
        {
            if (_serial.Length < _serialLength)
            {
                _serial = new byte[_serialLength];
            }

            deviceSerialUtf8.CopyTo(_serial);
            if (rules.Serial == SerialHandling.Pseudonymize)
            {
                _pseudonymizer.Write(deviceSerialUtf8, _pseudonym);
                _serialReplacement = _pseudonym;
            }
            else
            {
                _serialReplacement = DeviceToken;
            }
        }

        _lineLength = 0;
        _utf8PendingLength = 0;
        _discardingLine = false;
        _quarantine = QuarantineReason.None;
        _counts = default;

        // What a log revealed is remembered for that log only.
        _learned.Clear();
        _columns.Clear();
    }

    /// <summary>Remembers the Wi-Fi names and secrets this log revealed in <paramref name="store"/>, for <paramref name="device"/>.</summary>
    public void ShareLearned(Learning.LearnedSecrets store, ReadOnlySpan<char> device)
    {
        for (var slot = 0; slot < LearnedValues.SlotCount; slot++)
        {
            if (_learned.TryGetValue(slot, out var value, out var secret))
            {
                store.Learn(device, secret ? Learning.LearnedClass.WifiSecret : Learning.LearnedClass.WifiName, value);
            }
        }
    }

    /// <summary>
    /// Consumes all of <paramref name="input"/>, writing the scrubbed text of every completed line to
    /// <paramref name="output"/>; an incomplete last line is kept until a later block completes it or
    /// <paramref name="isFinalBlock"/> ends the log. Returns <see cref="QuarantineReason.None"/>, or
    /// <see cref="QuarantineReason.InvalidUtf8"/> (then, and on every later call until <see cref="Begin"/>, the
    /// caller must discard all output of this log).
    /// </summary>
    public QuarantineReason Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_line.Length == 0)
        {
            throw new InvalidOperationException("Begin must start a log before Process.");
        }

        if (_quarantine != QuarantineReason.None)
        {
            return _quarantine;
        }

        var serial = _serial.AsSpan(0, _serialLength);
        var scrubber = new TextScrubber(output, serial, _serialReplacement.Span, _rules.Serial, _pseudonymizer, _rules.Ipv4PrefixLength, _rules.Ipv6PrefixLength, _rules.CoordinateDecimals, _learned, _site);
        if (input.IsSingleSegment)
        {
            Consume(input.FirstSpan, ref scrubber);
        }
        else
        {
            foreach (var segment in input)
            {
                if (!Consume(segment.Span, ref scrubber))
                {
                    break;
                }
            }
        }

        if (_quarantine == QuarantineReason.None && isFinalBlock)
        {
            if (_utf8PendingLength > 0)
            {
                _quarantine = QuarantineReason.InvalidUtf8;
            }
            else if (_lineLength > 0 && !_discardingLine)
            {
                ScrubComplete(_line.AsSpan(0, _lineLength), ref scrubber);
            }

            _lineLength = 0;
            _discardingLine = false;
        }

        scrubber.Flush();
        _counts.Add(scrubber.Counts);
        return _quarantine;
    }

    public void Dispose()
    {
        // The pseudonymizer belongs to the caller; nothing here holds unmanaged resources.
    }

    private bool Consume(ReadOnlySpan<byte> span, ref TextScrubber scrubber)
    {
        if (!ValidateUtf8(span))
        {
            _quarantine = QuarantineReason.InvalidUtf8;
            return false;
        }

        var max = _rules.MaxLineLength;
        while (!span.IsEmpty)
        {
            if (_discardingLine)
            {
                var newline = span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    return true;
                }

                scrubber.Append("\n"u8);
                _discardingLine = false;
                span = span[(newline + 1)..];
                continue;
            }

            if (_lineLength > 0)
            {
                // Bytes this line may still take, its '\n' included.
                var limit = max + 1 - _lineLength;
                var window = span[..Math.Min(span.Length, limit)];
                var newline = window.IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    span[..(newline + 1)].CopyTo(_line.AsSpan(_lineLength));
                    ScrubComplete(_line.AsSpan(0, _lineLength + newline + 1), ref scrubber);
                    _lineLength = 0;
                    span = span[(newline + 1)..];
                    continue;
                }

                if (span.Length < limit)
                {
                    span.CopyTo(_line.AsSpan(_lineLength));
                    _lineLength += span.Length;
                    return true;
                }

                span[..(limit - 1)].CopyTo(_line.AsSpan(_lineLength));
                TruncateLine(_line.AsSpan(0, max), ref scrubber);
                _lineLength = 0;
                span = span[(limit - 1)..];
                continue;
            }

            var lastNewline = span.LastIndexOf((byte)'\n');
            if (lastNewline >= 0)
            {
                ScrubLines(span[..(lastNewline + 1)], ref scrubber);
                span = span[(lastNewline + 1)..];
                continue;
            }

            if (span.Length <= max)
            {
                span.CopyTo(_line);
                _lineLength = span.Length;
                return true;
            }

            TruncateLine(span[..max], ref scrubber);
            span = span[max..];
        }

        return true;
    }

    // lines ends with '\n'; any of its lines may be longer than the maximum.
    private void ScrubLines(ReadOnlySpan<byte> lines, ref TextScrubber scrubber)
    {
        var max = _rules.MaxLineLength;
        while (lines.Length > max + 1)
        {
            var newline = lines[..(max + 1)].LastIndexOf((byte)'\n');
            if (newline >= 0)
            {
                ScrubComplete(lines[..(newline + 1)], ref scrubber);
                lines = lines[(newline + 1)..];
                continue;
            }

            TruncateLine(lines[..max], ref scrubber);
            _discardingLine = false;
            lines = lines[(lines.IndexOf((byte)'\n') + 1)..];
            scrubber.Append("\n"u8);
        }

        ScrubComplete(lines, ref scrubber);
    }

    // Whole lines: scrubbed as one block, unless a table with a Wi-Fi name column is open or may start in them; then
    // line by line, each row's name cell replaced by position (NameColumns).
    private void ScrubComplete(ReadOnlySpan<byte> lines, ref TextScrubber scrubber)
    {
        while (!lines.IsEmpty)
        {
            if (!_columns.InTable && !NameColumns.MayHoldHeader(lines))
            {
                scrubber.Scrub(lines);
                return;
            }

            var newline = lines.IndexOf((byte)'\n');
            var line = newline < 0 ? lines : lines[..(newline + 1)];
            var content = newline < 0 ? line : line[..^1];
            if (_columns.InTable && _columns.TryTakeCell(content, out var start, out var end))
            {
                if (end > start)
                {
                    scrubber.Scrub(line[..start]);
                    scrubber.ReplaceWifiName(line[start..end]);
                    scrubber.Scrub(line[end..]);
                }
                else
                {
                    scrubber.Scrub(line);
                }
            }
            else
            {
                scrubber.Scrub(line);
                _columns.TryBegin(content);
            }

            lines = lines[line.Length..];
        }
    }

    // head is the first MaxLineLength bytes of a longer line; the rest of the line is discarded.
    private void TruncateLine(ReadOnlySpan<byte> head, ref TextScrubber scrubber)
    {
        var cut = head.Length - 1;
        while (cut > 0 && !(head[cut] is (byte)' ' or (byte)'\t' && IsWordEnd(head[cut - 1])))
        {
            cut--;
        }

        if (cut > 0)
        {
            scrubber.Scrub(head[..(cut + 1)]);
        }

        scrubber.Append(TruncatedToken);
        _counts.TruncatedLines++;
        _discardingLine = true;
    }

    // Only after a letter (or a non-ASCII character) is a cut sure not to split a number, address or phone.
    private static bool IsWordEnd(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a' || b >= 0x80;

    // Validates a block of a stream whose UTF-8 sequences may straddle blocks: an incomplete sequence at the end
    // is kept (at most 3 bytes) and completed by the next block.
    private bool ValidateUtf8(ReadOnlySpan<byte> span)
    {
        if (_utf8PendingLength > 0)
        {
            var needed = SequenceLength(_utf8Pending[0]) - _utf8PendingLength;
            var take = Math.Min(needed, span.Length);
            span[..take].CopyTo(_utf8Pending.AsSpan(_utf8PendingLength));
            _utf8PendingLength += take;
            span = span[take..];
            if (take < needed)
            {
                return true;
            }

            if (!Utf8.IsValid(_utf8Pending.AsSpan(0, _utf8PendingLength)))
            {
                return false;
            }

            _utf8PendingLength = 0;
        }

        var tail = IncompleteTailLength(span);
        if (!Utf8.IsValid(span[..^tail]))
        {
            return false;
        }

        span[^tail..].CopyTo(_utf8Pending);
        _utf8PendingLength = tail;
        return true;
    }

    private static int IncompleteTailLength(ReadOnlySpan<byte> span)
    {
        for (var back = 1; back <= Math.Min(MaxUtf8SequenceLength - 1, span.Length); back++)
        {
            var b = span[^back];
            if (b < 0x80)
            {
                return 0;
            }

            if (b >= 0xC0)
            {
                return SequenceLength(b) > back ? back : 0;
            }
        }

        return 0;
    }

    // Length a lead byte announces; invalid lead bytes count as 1 so the validator sees and rejects them.
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xF0 and < 0xF5 => 4,
        >= 0xE0 and < 0xF0 => 3,
        >= 0xC2 and < 0xE0 => 2,
        _ => 1,
    };
}
