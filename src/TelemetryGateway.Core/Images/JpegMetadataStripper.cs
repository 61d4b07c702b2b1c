using System.Buffers;

namespace TelemetryGateway.Core.Images;

/// <summary>
/// Removes metadata from a JPEG without decoding it: a walk over the marker segments that copies what the decoder
/// needs (SOF, DHT, DQT, DRI, SOS and the entropy-coded data, byte for byte) and drops the rest.
/// </summary>
/// <remarks>
/// Kept: APP0 only when it is JFIF (density and aspect ratio), APP2 only when it is ICC_PROFILE (without it colours
/// display wrong; a profile describes a device's colours, not a person), APP14 only when it is Adobe (it says how to
/// convert CMYK/YCCK, without it such images decode to wrong colours). Dropped: APP1 (EXIF with GPS and maker notes,
/// XMP), APP13 (IPTC, Photoshop), every other APPn (MPF, FlashPix, vendor data), COM comments, and anything after
/// EOI (vendor trailers, embedded videos). Input is consumed whole; state between calls is a few fields, so memory
/// does not depend on the image's size. One instance per request; <see cref="Begin"/> starts the next image.
/// </remarks>
public sealed class JpegMetadataStripper : ImageMetadataStripper
{
    private const int IdentifierLength = 14;
    private static ReadOnlySpan<byte> Jfif => "JFIF\0"u8;
    private static ReadOnlySpan<byte> IccProfile => "ICC_PROFILE\0"u8;
    private static ReadOnlySpan<byte> Adobe => "Adobe"u8;

    private readonly byte[] _header = new byte[4 + IdentifierLength];
    private State _state;
    private int _headerLength;
    private int _marker;
    private int _remaining;
    private int _identifierLength;

    private enum State
    {
        Signature,
        MarkerPrefix,
        MarkerCode,
        Length,
        Identifier,
        CopySegment,
        SkipSegment,
        EntropyCoded,
        EntropyCodedFF,
        Done,
        Failed,
    }

    public JpegMetadataStripper() => Begin();

    /// <summary>Metadata segments dropped from the current image.</summary>
    public int DroppedSegments { get; private set; }

    /// <summary>Starts a new image.</summary>
    public void Begin()
    {
        _state = State.Signature;
        _headerLength = 0;
        DroppedSegments = 0;
    }

    private protected override bool IsComplete => _state == State.Done;

    private protected override void MarkFailed() => _state = State.Failed;

    private protected override ImageDefect Walk(ReadOnlySpan<byte> span, IBufferWriter<byte> output)
    {
        while (!span.IsEmpty)
        {
            switch (_state)
            {
                case State.Signature:
                    {
                        if (Gather(ref span, _header, ref _headerLength, 2))
                        {
                            if (_header[0] != 0xFF || _header[1] != 0xD8)
                            {
                                return ImageDefect.WrongSignature;
                            }
                            output.Write(_header.AsSpan(0, 2));
                            _state = State.MarkerPrefix;
                        }
                        break;
                    }
                case State.MarkerPrefix:
                    if (span[0] != 0xFF)
                    {
                        return ImageDefect.Malformed;
                    }
                    span = span[1..];
                    _state = State.MarkerCode;
                    break;
                case State.MarkerCode:
                    {
                        var code = span[0];
                        span = span[1..];
                        var defect = OnMarker(code, output);
                        if (defect != ImageDefect.None)
                        {
                            return defect;
                        }
                        break;
                    }
                case State.Length:
                    {
                        if (Gather(ref span, _header, ref _headerLength, 4))
                        {
                            var length = (_header[2] << 8) | _header[3];
                            if (length < 2)
                            {
                                return ImageDefect.Malformed;
                            }
                            _remaining = length - 2;
                            OnSegmentHeader(output);
                        }
                        break;
                    }
                case State.Identifier:
                    {
                        if (Gather(ref span, _header, ref _headerLength, 4 + _identifierLength))
                        {
                            _remaining -= _identifierLength;
                            if (KeepsApplicationSegment(_marker, _header.AsSpan(4, _identifierLength)))
                            {
                                output.Write(_header.AsSpan(0, _headerLength));
                                _state = State.CopySegment;
                            }
                            else
                            {
                                DroppedSegments++;
                                _state = State.SkipSegment;
                            }
                            EndSegmentIfEmpty();
                        }
                        break;
                    }
                case State.CopySegment:
                case State.SkipSegment:
                    {
                        var take = Math.Min(_remaining, span.Length);
                        if (_state == State.CopySegment)
                        {
                            output.Write(span[..take]);
                        }
                        span = span[take..];
                        _remaining -= take;
                        EndSegmentIfEmpty();
                        break;
                    }
                case State.EntropyCoded:
                    {
                        var ff = span.IndexOf((byte)0xFF);
                        if (ff < 0)
                        {
                            output.Write(span);
                            return ImageDefect.None;
                        }
                        output.Write(span[..ff]);
                        span = span[(ff + 1)..];
                        _state = State.EntropyCodedFF;
                        break;
                    }
                case State.EntropyCodedFF:
                    {
                        var code = span[0];
                        if (code == 0xFF)
                        {
                            // Fill bytes before a marker: nothing to keep.
                            span = span[1..];
                            break;
                        }
                        if (code == 0x00 || (code >= 0xD0 && code <= 0xD7))
                        {
                            // A stuffed 0xFF data byte or a restart marker: part of the scan.
                            WriteMarker(output, code);
                            span = span[1..];
                            _state = State.EntropyCoded;
                            break;
                        }
                        span = span[1..];
                        var defect = OnMarker(code, output);
                        if (defect != ImageDefect.None)
                        {
                            return defect;
                        }
                        break;
                    }
                case State.Done:
                    // Whatever follows EOI is not part of the image.
                    return ImageDefect.None;
                default:
                    return ImageDefect.Malformed;
            }
        }
        return ImageDefect.None;
    }

    private ImageDefect OnMarker(byte code, IBufferWriter<byte> output)
    {
        switch (code)
        {
            case 0xFF:
                // Fill byte: the marker code follows.
                _state = State.MarkerCode;
                return ImageDefect.None;
            case 0x00:
            case 0xD8:
                return ImageDefect.Malformed;
            case 0xD9:
                WriteMarker(output, 0xD9);
                _state = State.Done;
                return ImageDefect.None;
            case 0x01:
            case >= 0xD0 and <= 0xD7:
                WriteMarker(output, code);
                _state = State.MarkerPrefix;
                return ImageDefect.None;
            default:
                _marker = code;
                _header[0] = 0xFF;
                _header[1] = code;
                _headerLength = 2;
                _state = State.Length;
                return ImageDefect.None;
        }
    }

    private void OnSegmentHeader(IBufferWriter<byte> output)
    {
        if (_marker is >= 0xE0 and <= 0xEF)
        {
            // Whether an application segment is kept depends on its identifier.
            _identifierLength = Math.Min(IdentifierLength, _remaining);
            _state = State.Identifier;
            if (_identifierLength == 0)
            {
                DroppedSegments++;
                _state = State.SkipSegment;
                EndSegmentIfEmpty();
            }
            return;
        }
        if (_marker == 0xFE)
        {
            DroppedSegments++;
            _state = State.SkipSegment;
        }
        else
        {
            output.Write(_header.AsSpan(0, 4));
            _state = State.CopySegment;
        }
        EndSegmentIfEmpty();
    }

    private void EndSegmentIfEmpty()
    {
        if (_remaining == 0 && _state is State.CopySegment or State.SkipSegment)
        {
            // After the header of a scan comes its entropy-coded data.
            _state = _marker == 0xDA ? State.EntropyCoded : State.MarkerPrefix;
        }
    }

    private static void WriteMarker(IBufferWriter<byte> output, byte code)
    {
        var span = output.GetSpan(2);
        span[0] = 0xFF;
        span[1] = code;
        output.Advance(2);
    }

    private static bool KeepsApplicationSegment(int marker, ReadOnlySpan<byte> identifier) => marker switch
    {
        0xE0 => identifier.StartsWith(Jfif),
        0xE2 => identifier.StartsWith(IccProfile),
        0xEE => identifier.StartsWith(Adobe),
        _ => false,
    };
}
