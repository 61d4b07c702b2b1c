using System.Buffers;
using TelemetryGateway.Core.Images;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// A rewriter the pump feeds chunk by chunk: it consumes all the input it is given (keeping what it needs of an
/// incomplete unit internally) and writes what may be forwarded. Returns null, or the reason the body is rejected.
/// </summary>
internal interface IStreamingRewriter
{
    string? Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output);

    /// <summary>What the rewrite of the finished body did, for the records of processing.</summary>
    ProcessingTally Counts { get; }
}

/// <summary>A JPEG photo stripped of its metadata segments.</summary>
internal sealed class JpegRewriter : IStreamingRewriter
{
    private readonly JpegMetadataStripper _stripper = new();

    public string? Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        var defect = _stripper.Process(input, isFinalBlock, output);
        return defect == ImageDefect.None ? null : "jpeg-" + defect.Id();
    }

    public ProcessingTally Counts => new(_stripper.DroppedSegments, 0, 0, 0);
}

/// <summary>A PNG photo stripped of its metadata chunks.</summary>
internal sealed class PngRewriter : IStreamingRewriter
{
    private readonly PngMetadataStripper _stripper = new();

    public string? Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        var defect = _stripper.Process(input, isFinalBlock, output);
        return defect == ImageDefect.None ? null : "png-" + defect.Id();
    }

    public ProcessingTally Counts => new(_stripper.DroppedChunks, 0, 0, 0);
}
