using System.Buffers;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Images;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Images;

public sealed class PngMetadataStripperTests(TestImageFiles images) : IClassFixture<TestImageFiles>
{
    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Leaves_no_gps_exif_xmp_or_text_tag(Segmentation segmentation)
    {
        var stripped = Strip(images.Png, segmentation);

        var tags = ImageTools.Tags(images.Directory, stripped, "png");
        Assert.Empty(ImageTools.MetadataTags(tags));
    }

    [Fact]
    public void Test_image_carries_the_metadata_it_is_meant_to()
    {
        var types = ImageTools.ChunkTypes(images.Png);
        Assert.Contains("eXIf", types);
        Assert.Contains("iTXt", types);
        Assert.Contains("tIME", types);
        Assert.Contains(types, t => t is "tEXt" or "zTXt");
        Assert.Contains("GPS:GPSLatitude", ImageTools.Tags(images.Directory, images.Png, "png").Keys);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Keeps_only_image_chunks(Segmentation segmentation)
    {
        var stripped = Strip(images.Png, segmentation);

        Assert.Equal(["IHDR", "IDAT", "IEND"], ImageTools.ChunkTypes(stripped));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void No_planted_value_remains_in_the_bytes(Segmentation segmentation)
    {
        var stripped = Strip(images.Png, segmentation);

        foreach (var canary in ImageTools.Canaries)
        {
            Assert.False(CanaryScanner.Contains(stripped, canary), "a planted metadata value remains");
        }
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Keeps_the_image_data_byte_for_byte(Segmentation segmentation)
    {
        var stripped = Strip(images.Png, segmentation);

        Assert.Equal(ImageTools.ChunkData(images.Png, "IDAT"), ImageTools.ChunkData(stripped, "IDAT"));
        Assert.Equal(ImageTools.ChunkData(images.Png, "IHDR"), ImageTools.ChunkData(stripped, "IHDR"));
    }

    [Fact]
    public void Keeps_rendering_chunks()
    {
        var png = WithChunkAfterHeader(images.Png, "gAMA", [0, 0, 0xB1, 0x8F]);

        Assert.Contains("gAMA", ImageTools.ChunkTypes(Strip(png, Segmentation.SingleSegment)));
    }

    [Fact]
    public void Drops_private_chunks()
    {
        var png = WithChunkAfterHeader(images.Png, "prVt", "Hauptstrasse 5"u8.ToArray());

        Assert.DoesNotContain("prVt", ImageTools.ChunkTypes(Strip(png, Segmentation.SingleSegment)));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Rejects_a_chunk_with_a_bad_crc(Segmentation segmentation)
    {
        var png = (byte[])images.Png.Clone();
        // The last byte of the IHDR chunk's CRC.
        png[8 + 8 + 13 + 3] ^= 0x01;

        Assert.Equal(ImageDefect.BadChecksum, Process(png, segmentation, out _));
    }

    [Fact]
    public void Rejects_a_bad_crc_in_a_dropped_chunk()
    {
        var png = WithChunkAfterHeader(images.Png, "tEXt", "Comment\0x"u8.ToArray());
        var crcEnd = 8 + 25 + 12 + 9;
        png[crcEnd - 1] ^= 0x01;

        Assert.Equal(ImageDefect.BadChecksum, Process(png, Segmentation.SingleSegment, out _));
    }

    [Fact]
    public void Rejects_an_unknown_critical_chunk()
    {
        var png = WithChunkAfterHeader(images.Png, "ABCD", [1, 2, 3]);

        Assert.Equal(ImageDefect.UnknownCriticalChunk, Process(png, Segmentation.SingleSegment, out _));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Rejects_a_truncated_image(Segmentation segmentation) =>
        Assert.Equal(ImageDefect.Truncated, Process(images.Png[..^6], segmentation, out _));

    [Fact]
    public void Rejects_a_body_that_is_not_a_png() =>
        Assert.Equal(ImageDefect.WrongSignature, Process("not an image at all"u8.ToArray(), Segmentation.SingleSegment, out _));

    [Fact]
    public void Streams_in_chunks_with_the_same_result_as_whole()
    {
        var stripper = new PngMetadataStripper();
        using var output = new PooledBufferWriter();
        for (var offset = 0; offset < images.Png.Length; offset += 50)
        {
            var chunk = images.Png.AsMemory(offset, Math.Min(50, images.Png.Length - offset));
            Assert.Equal(ImageDefect.None, stripper.Process(new ReadOnlySequence<byte>(chunk), isFinalBlock: false, output));
        }
        Assert.Equal(ImageDefect.None, stripper.Process(ReadOnlySequence<byte>.Empty, isFinalBlock: true, output));

        Assert.Equal(Strip(images.Png, Segmentation.SingleSegment), output.WrittenMemory.ToArray());
    }

    private static byte[] WithChunkAfterHeader(byte[] png, string type, byte[] data)
    {
        var headerEnd = 8 + 25;
        var result = new MemoryStream();
        result.Write(png, 0, headerEnd);
        ImageTools.WriteChunk(result, type, data);
        result.Write(png, headerEnd, png.Length - headerEnd);
        return result.ToArray();
    }

    private static byte[] Strip(byte[] png, Segmentation segmentation)
    {
        Assert.Equal(ImageDefect.None, Process(png, segmentation, out var output));
        return output;
    }

    private static ImageDefect Process(byte[] png, Segmentation segmentation, out byte[] output)
    {
        var stripper = new PngMetadataStripper();
        using var writer = new PooledBufferWriter();
        var defect = stripper.Process(Segments.Split(png, segmentation), isFinalBlock: true, writer);
        output = writer.WrittenMemory.ToArray();
        return defect;
    }
}
