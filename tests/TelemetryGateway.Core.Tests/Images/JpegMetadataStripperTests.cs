using System.Buffers;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Images;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Images;

public sealed class JpegMetadataStripperTests(TestImageFiles images) : IClassFixture<TestImageFiles>
{
    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Leaves_no_gps_exif_xmp_iptc_or_comment_tag(Segmentation segmentation)
    {
        var stripped = Strip(images.Jpeg, segmentation);

        var tags = ImageTools.Tags(images.Directory, stripped, "jpg");
        Assert.Empty(ImageTools.MetadataTags(tags));
    }

    [Fact]
    public void Test_image_carries_the_metadata_it_is_meant_to()
    {
        var tags = ImageTools.Tags(images.Directory, images.Jpeg, "jpg");
        Assert.Contains("GPS:GPSLatitude", tags.Keys);
        Assert.Contains("IPTC:By-line", tags.Keys);
        Assert.Contains("XMP-dc:Creator", tags.Keys);
        Assert.Contains("File:Comment", tags.Keys);
        Assert.Contains("ExifIFD:SerialNumber", tags.Keys);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void No_planted_value_remains_in_the_bytes(Segmentation segmentation)
    {
        var stripped = Strip(images.Jpeg, segmentation);

        foreach (var canary in ImageTools.Canaries)
        {
            Assert.False(CanaryScanner.Contains(stripped, canary), "a planted metadata value remains");
        }
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Keeps_the_scan_data_byte_for_byte(Segmentation segmentation)
    {
        var stripped = Strip(images.Jpeg, segmentation);

        Assert.Equal(ScanData(images.Jpeg), ScanData(stripped));
    }

    [Fact]
    public void Decodes_to_the_same_pixels()
    {
        var stripped = Strip(images.Jpeg, Segmentation.SingleSegment);

        Assert.Equal(ImageTools.DecodeJpeg(images.Directory, images.Jpeg), ImageTools.DecodeJpeg(images.Directory, stripped));
    }

    [Fact]
    public void Keeps_the_jfif_segment()
    {
        var stripped = Strip(images.Jpeg, Segmentation.SingleSegment);

        var tags = ImageTools.Tags(images.Directory, stripped, "jpg");
        Assert.Contains("JFIF:JFIFVersion", tags.Keys);
    }

    [Fact]
    public void Drops_data_after_the_end_of_image()
    {
        byte[] withTrailer = [.. images.Jpeg, .. "Hauptstrasse 5"u8];

        var stripped = Strip(withTrailer, Segmentation.SingleSegment);

        Assert.Equal([0xFF, 0xD9], stripped[^2..]);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Rejects_a_truncated_image(Segmentation segmentation)
    {
        var truncated = images.Jpeg[..(images.Jpeg.Length / 2)];

        Assert.Equal(ImageDefect.Truncated, Process(truncated, segmentation, out _));
    }

    [Fact]
    public void Rejects_a_body_that_is_not_a_jpeg() =>
        Assert.Equal(ImageDefect.WrongSignature, Process("{\"a\":1}"u8.ToArray(), Segmentation.SingleSegment, out _));

    [Fact]
    public void Rejects_garbage_between_segments()
    {
        byte[] bad = [0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xD9];

        Assert.Equal(ImageDefect.Malformed, Process(bad, Segmentation.SingleSegment, out _));
    }

    [Fact]
    public void Streams_in_chunks_with_the_same_result_as_whole()
    {
        var stripper = new JpegMetadataStripper();
        using var output = new PooledBufferWriter();
        for (var offset = 0; offset < images.Jpeg.Length; offset += 100)
        {
            var chunk = images.Jpeg.AsMemory(offset, Math.Min(100, images.Jpeg.Length - offset));
            Assert.Equal(ImageDefect.None, stripper.Process(new ReadOnlySequence<byte>(chunk), isFinalBlock: false, output));
        }
        Assert.Equal(ImageDefect.None, stripper.Process(ReadOnlySequence<byte>.Empty, isFinalBlock: true, output));

        Assert.Equal(Strip(images.Jpeg, Segmentation.SingleSegment), output.WrittenMemory.ToArray());
    }

    [Theory]
    [InlineData("-progressive")]
    [InlineData("-restart", "1")]
    [InlineData("-optimize")]
    public void Keeps_every_scan_of_other_encodings(params string[] encoderOptions)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("tg-jpeg-").FullName;
        try
        {
            var jpeg = ImageTools.JpegWithMetadata(directory, encoderOptions);

            var stripped = Strip(jpeg, Segmentation.MultiSegment);

            Assert.Empty(ImageTools.MetadataTags(ImageTools.Tags(directory, stripped, "jpg")));
            Assert.Equal(ImageTools.DecodeJpeg(directory, jpeg), ImageTools.DecodeJpeg(directory, stripped));
        }
        finally
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Keeps_icc_profile_and_adobe_segments_and_drops_other_application_segments()
    {
        byte[] icc = [0xFF, 0xE2, 0x00, 0x12, .. "ICC_PROFILE\0"u8, 0x01, 0x01, 0xAA, 0xBB];
        byte[] mpf = [0xFF, 0xE2, 0x00, 0x0A, .. "MPF\0"u8, 0x01, 0x02, 0x03, 0x04];
        byte[] adobe = [0xFF, 0xEE, 0x00, 0x0E, .. "Adobe"u8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x01];
        byte[] vendor = [0xFF, 0xE9, 0x00, 0x04, 0x12, 0x34];
        byte[] jpeg = [.. images.Jpeg[..2], .. icc, .. mpf, .. adobe, .. vendor, .. images.Jpeg[2..]];

        var stripped = Strip(jpeg, Segmentation.OneBytePerSegment);

        Assert.True(stripped.AsSpan().IndexOf(icc) > 0);
        Assert.True(stripped.AsSpan().IndexOf(adobe) > 0);
        Assert.True(stripped.AsSpan().IndexOf(mpf) < 0);
        Assert.True(stripped.AsSpan().IndexOf(vendor) < 0);
    }

    private static byte[] Strip(byte[] jpeg, Segmentation segmentation)
    {
        Assert.Equal(ImageDefect.None, Process(jpeg, segmentation, out var output));
        return output;
    }

    private static ImageDefect Process(byte[] jpeg, Segmentation segmentation, out byte[] output)
    {
        var stripper = new JpegMetadataStripper();
        using var writer = new PooledBufferWriter();
        var defect = stripper.Process(Segments.Split(jpeg, segmentation), isFinalBlock: true, writer);
        output = writer.WrittenMemory.ToArray();
        return defect;
    }

    /// <summary>From the start-of-scan marker to the end: the compressed image itself.</summary>
    private static byte[] ScanData(byte[] jpeg)
    {
        var start = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xDA]);
        Assert.True(start > 0);
        return jpeg[start..];
    }
}
