using System.Buffers;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Images;

/// <summary>
/// The <see cref="PayloadFormat.Image"/> rewriter: a JPEG or PNG photo (told apart by its first byte) stripped of its
/// metadata segments or chunks, without decoding it. Every purpose gets the same stripped image, so it is stripped
/// once per message; a body streams through in blocks in constant memory. Dropped segments and chunks are counted as
/// dropped.
/// </summary>
internal sealed class ImageMinimizer : IPayloadMinimizer, IStreamingPayloadMinimizer
{
    private const byte JpegFirstByte = 0xFF;
    private const byte PngFirstByte = 0x89;

    private readonly JpegMetadataStripper _jpeg = new();
    private readonly PngMetadataStripper _png = new();
    private readonly PooledBufferWriter _output = new(16 * 1024);
    private ImageMetadataStripper? _stripper;
    private bool _failed;

    public QuarantineReason Minimize(ReadOnlySpan<StreamPurpose> purposes, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload)
    {
        _output.Reset();
        Begin();
        return Process(payload, isFinalBlock: true, _output);
    }

    /// <summary>An image is always forwarded once stripped: what is personal in it was metadata.</summary>
    public bool HasOutput(int slot) => true;

    public ReadOnlyMemory<byte> Output(int slot) => _output.WrittenMemory;

    public void CommitCounts(int slot, long[] shard) => shard[(int)ProcessingAction.Dropped] += Dropped;

    public void BeginStream(StreamPurpose purpose, ReadOnlySpan<char> device) => Begin();

    public QuarantineReason ProcessStream(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output) =>
        Process(input, isFinalBlock, output);

    public void CommitStreamCounts(long[] shard) => CommitCounts(0, shard);

    private int Dropped => ReferenceEquals(_stripper, _jpeg) ? _jpeg.DroppedSegments : ReferenceEquals(_stripper, _png) ? _png.DroppedChunks : 0;

    private void Begin()
    {
        _stripper = null;
        _failed = false;
    }

    private QuarantineReason Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        if (_failed)
        {
            return QuarantineReason.ImageMalformed;
        }
        if (_stripper is null)
        {
            if (input.IsEmpty)
            {
                return isFinalBlock ? QuarantineReason.Empty : QuarantineReason.None;
            }
            switch (FirstByte(input))
            {
                case JpegFirstByte:
                    _jpeg.Begin();
                    _stripper = _jpeg;
                    break;
                case PngFirstByte:
                    _png.Begin();
                    _stripper = _png;
                    break;
                default:
                    _failed = true;
                    return QuarantineReason.ImageWrongSignature;
            }
        }
        var defect = _stripper.Process(input, isFinalBlock, output);
        if (defect == ImageDefect.None)
        {
            return QuarantineReason.None;
        }
        _failed = true;
        return defect switch
        {
            ImageDefect.WrongSignature => QuarantineReason.ImageWrongSignature,
            ImageDefect.Truncated => QuarantineReason.ImageTruncated,
            ImageDefect.BadChecksum => QuarantineReason.ImageBadChecksum,
            ImageDefect.UnknownCriticalChunk => QuarantineReason.ImageUnknownCriticalChunk,
            _ => QuarantineReason.ImageMalformed,
        };
    }

    private static byte FirstByte(in ReadOnlySequence<byte> input)
    {
        foreach (var segment in input)
        {
            if (!segment.IsEmpty)
            {
                return segment.Span[0];
            }
        }
        return 0;
    }

    public void Dispose() => _output.Dispose();
}
