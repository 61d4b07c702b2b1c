using System.Buffers;

namespace TelemetryGateway.Core.Tests.Support;

/// <summary>How a test presents a payload to a parser: every parser test runs on all three.</summary>
public enum Segmentation
{
    SingleSegment,
    MultiSegment,
    OneBytePerSegment,
}

/// <summary>Builds <see cref="ReadOnlySequence{T}"/> inputs split into segments, down to one byte per segment.</summary>
public static class Segments
{
    public static TheoryData<Segmentation> All => new() { Segmentation.SingleSegment, Segmentation.MultiSegment, Segmentation.OneBytePerSegment };

    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> bytes, Segmentation segmentation) => segmentation switch
    {
        Segmentation.SingleSegment => new ReadOnlySequence<byte>(bytes.ToArray()),
        // Uneven cuts, so that tokens straddle boundaries at many different offsets.
        Segmentation.MultiSegment => Build(bytes, [7, 3, 13, 1, 29, 5]),
        Segmentation.OneBytePerSegment => Build(bytes, [1]),
        _ => throw new ArgumentOutOfRangeException(nameof(segmentation)),
    };

    private static ReadOnlySequence<byte> Build(ReadOnlySpan<byte> bytes, int[] sizes)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        Segment? first = null;
        Segment? last = null;
        var offset = 0;
        var turn = 0;
        while (offset < bytes.Length)
        {
            var size = Math.Min(sizes[turn++ % sizes.Length], bytes.Length - offset);
            var segment = new Segment(bytes.Slice(offset, size).ToArray());
            if (first is null)
            {
                first = segment;
            }
            else
            {
                last!.Append(segment);
            }
            last = segment;
            offset += size;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
