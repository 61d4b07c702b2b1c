using System.Buffers;
using System.Buffers.Binary;

namespace TelemetryGateway.Core.Images;

/// <summary>
/// Removes metadata from a PNG without decoding it: a walk over the chunks that copies the critical chunks and the
/// ancillary chunks that change how the image is displayed, byte for byte, and drops every other chunk. Every chunk's
/// CRC is checked, kept or not.
/// </summary>
/// <remarks>
/// An allowlist, so an unknown or private chunk (which may carry anything) is dropped: kept are IHDR, PLTE, IDAT, IEND,
/// tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, bKGD, pHYs, hIST, cICP, mDCV, cLLI and the APNG chunks acTL, fcTL, fdAT.
/// Dropped are tEXt, zTXt, iTXt (XMP lives there), eXIf, tIME and all else. An unknown critical chunk rejects the
/// image (a decoder could not display it either). Anything after IEND is dropped. Input is consumed whole; state is a
/// few fields, so memory does not depend on the image's size. One instance per request.
/// </remarks>
public sealed class PngMetadataStripper : ImageMetadataStripper
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] s_crcTable = BuildCrcTable();

    private readonly byte[] _header = new byte[8];
    private State _state;
    private int _headerLength;
    private long _remaining;
    private uint _crc;
    private bool _keep;
    private bool _isEnd;

    private enum State
    {
        Signature,
        ChunkHeader,
        ChunkData,
        ChunkCrc,
        Done,
        Failed,
    }

    public PngMetadataStripper() => Begin();

    /// <summary>Chunks dropped from the current image.</summary>
    public int DroppedChunks { get; private set; }

    /// <summary>Starts a new image.</summary>
    public void Begin()
    {
        _state = State.Signature;
        _headerLength = 0;
        DroppedChunks = 0;
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
                        if (Gather(ref span, _header, ref _headerLength, 8))
                        {
                            if (!_header.AsSpan().SequenceEqual(Signature))
                            {
                                return ImageDefect.WrongSignature;
                            }
                            output.Write(Signature);
                            _headerLength = 0;
                            _state = State.ChunkHeader;
                        }
                        break;
                    }
                case State.ChunkHeader:
                    {
                        if (Gather(ref span, _header, ref _headerLength, 8))
                        {
                            var defect = OnChunkHeader(output);
                            if (defect != ImageDefect.None)
                            {
                                return defect;
                            }
                        }
                        break;
                    }
                case State.ChunkData:
                    {
                        var take = (int)Math.Min(_remaining, span.Length);
                        var data = span[..take];
                        _crc = UpdateCrc(_crc, data);
                        if (_keep)
                        {
                            output.Write(data);
                        }
                        span = span[take..];
                        _remaining -= take;
                        if (_remaining == 0)
                        {
                            _headerLength = 0;
                            _state = State.ChunkCrc;
                        }
                        break;
                    }
                case State.ChunkCrc:
                    {
                        if (Gather(ref span, _header, ref _headerLength, 4))
                        {
                            var expected = BinaryPrimitives.ReadUInt32BigEndian(_header);
                            if (expected != (_crc ^ 0xFFFFFFFFu))
                            {
                                return ImageDefect.BadChecksum;
                            }
                            if (_keep)
                            {
                                output.Write(_header.AsSpan(0, 4));
                            }
                            _headerLength = 0;
                            _state = _isEnd ? State.Done : State.ChunkHeader;
                        }
                        break;
                    }
                case State.Done:
                    return ImageDefect.None;
                default:
                    return ImageDefect.Malformed;
            }
        }
        return ImageDefect.None;
    }

    private ImageDefect OnChunkHeader(IBufferWriter<byte> output)
    {
        var length = BinaryPrimitives.ReadUInt32BigEndian(_header);
        var type = _header.AsSpan(4, 4);
        if (length > int.MaxValue || !IsChunkType(type))
        {
            return ImageDefect.Malformed;
        }
        var critical = (type[0] & 0x20) == 0;
        _keep = IsKept(type);
        if (critical && !_keep)
        {
            return ImageDefect.UnknownCriticalChunk;
        }
        if (!_keep)
        {
            DroppedChunks++;
        }
        _isEnd = type.SequenceEqual("IEND"u8);
        _crc = UpdateCrc(0xFFFFFFFFu, type);
        if (_keep)
        {
            output.Write(_header.AsSpan(0, 8));
        }
        _remaining = length;
        _headerLength = 0;
        _state = length == 0 ? State.ChunkCrc : State.ChunkData;
        return ImageDefect.None;
    }

    private static bool IsChunkType(ReadOnlySpan<byte> type)
    {
        foreach (var b in type)
        {
            if (!char.IsAsciiLetter((char)b))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsKept(ReadOnlySpan<byte> type) =>
        type.SequenceEqual("IHDR"u8) || type.SequenceEqual("PLTE"u8) || type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8)
        || type.SequenceEqual("tRNS"u8) || type.SequenceEqual("gAMA"u8) || type.SequenceEqual("cHRM"u8) || type.SequenceEqual("sRGB"u8)
        || type.SequenceEqual("iCCP"u8) || type.SequenceEqual("sBIT"u8) || type.SequenceEqual("bKGD"u8) || type.SequenceEqual("pHYs"u8)
        || type.SequenceEqual("hIST"u8) || type.SequenceEqual("cICP"u8) || type.SequenceEqual("mDCV"u8) || type.SequenceEqual("cLLI"u8)
        || type.SequenceEqual("acTL"u8) || type.SequenceEqual("fcTL"u8) || type.SequenceEqual("fdAT"u8);

    /// <summary>CRC-32 (ISO 3309, as PNG uses it) of <paramref name="data"/>, continuing from <paramref name="crc"/>.</summary>
    internal static uint UpdateCrc(uint crc, ReadOnlySpan<byte> data)
    {
        var table = s_crcTable;
        foreach (var b in data)
        {
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }
}
