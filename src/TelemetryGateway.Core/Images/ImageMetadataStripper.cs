using System.Buffers;

namespace TelemetryGateway.Core.Images;

/// <summary>
/// A streaming walk over an image's container structure (JPEG segments, PNG chunks) that copies what a decoder needs
/// and drops metadata, without decoding or re-encoding the image. Input may arrive in any number of blocks; state
/// between calls is a few fields, so memory does not depend on the image's size.
/// </summary>
public abstract class ImageMetadataStripper
{
    private protected ImageMetadataStripper()
    {
    }

    /// <summary>
    /// Walks <paramref name="input"/> (all of it is consumed) and writes what is kept to <paramref name="output"/>.
    /// With <paramref name="isFinalBlock"/>, the image must have ended (JPEG EOI, PNG IEND seen).
    /// </summary>
    public ImageDefect Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var segment in input)
        {
            var defect = Walk(segment.Span, output);
            if (defect != ImageDefect.None)
            {
                MarkFailed();
                return defect;
            }
        }
        if (isFinalBlock && !IsComplete)
        {
            MarkFailed();
            return ImageDefect.Truncated;
        }
        return ImageDefect.None;
    }

    /// <summary>
    /// Gathers a fixed-size header that may straddle blocks: moves bytes from <paramref name="span"/> into
    /// <paramref name="header"/> until it holds <paramref name="length"/> of them; true once it does.
    /// </summary>
    private protected static bool Gather(ref ReadOnlySpan<byte> span, byte[] header, ref int headerLength, int length)
    {
        var take = Math.Min(length - headerLength, span.Length);
        span[..take].CopyTo(header.AsSpan(headerLength));
        headerLength += take;
        span = span[take..];
        return headerLength == length;
    }

    /// <summary>True once the image's end marker has been walked.</summary>
    private protected abstract bool IsComplete { get; }

    /// <summary>Walks one contiguous block, writing what is kept.</summary>
    private protected abstract ImageDefect Walk(ReadOnlySpan<byte> span, IBufferWriter<byte> output);

    /// <summary>Makes every later block of this image fail until the next image begins.</summary>
    private protected abstract void MarkFailed();
}
