using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace TelemetryGateway.Core.Tests.Images;

/// <summary>
/// Test images made and inspected with real tools: cjpeg (libjpeg-turbo-progs) encodes a JPEG, exiftool
/// (libimage-exiftool-perl) writes GPS, EXIF, XMP, IPTC and text metadata and reads back what remains.
/// </summary>
internal static class ImageTools
{
    /// <summary>Values written into the metadata; none may survive stripping.</summary>
    public static readonly string[] Canaries = ["48.137361", "11.575465", "WK1DEGZD8PCF32ER", "Erika Mustermann", "Hauptstrasse 5", "PhoneX"];

    /// <summary>Tags that describe the image itself (or the file on disk), never its origin or author.</summary>
    private static readonly HashSet<string> s_allowedTags =
    [
        "SourceFile", "File:FileType", "File:FileTypeExtension", "File:MIMEType", "File:ImageWidth", "File:ImageHeight",
        "File:EncodingProcess", "File:BitsPerSample", "File:ColorComponents", "File:YCbCrSubSampling",
        "Composite:ImageSize", "Composite:Megapixels",
        "PNG:ImageWidth", "PNG:ImageHeight", "PNG:BitDepth", "PNG:ColorType", "PNG:Compression", "PNG:Filter", "PNG:Interlace",
    ];

    private static readonly string[] s_allowedGroups = ["ExifTool:", "System:", "JFIF:"];

    private static readonly string[] s_metadataArguments =
    [
        "-GPSLatitude=48.137361", "-GPSLatitudeRef=N", "-GPSLongitude=11.575465", "-GPSLongitudeRef=E",
        "-Make=Acme", "-Model=PhoneX", "-SerialNumber=WK1DEGZD8PCF32ER", "-Artist=Erika Mustermann",
        "-XMP-dc:Creator=Erika Mustermann", "-XMP-dc:Description=Hauptstrasse 5",
    ];

    /// <summary>A 48x32 JPEG from cjpeg (baseline unless <paramref name="encoderOptions"/> say otherwise), then GPS, EXIF (serial, maker), XMP, IPTC and a comment from exiftool.</summary>
    public static byte[] JpegWithMetadata(string directory, params string[] encoderOptions)
    {
        var ppm = Path.Combine(directory, "photo.ppm");
        var jpeg = Path.Combine(directory, "photo.jpg");
        File.WriteAllBytes(ppm, Ppm(48, 32));
        Run("cjpeg", [.. encoderOptions, "-quality", "90", "-outfile", jpeg, ppm]);
        Run("exiftool", [.. s_metadataArguments, "-IPTC:By-line=Erika Mustermann", "-Comment=Hauptstrasse 5", "-overwrite_original", jpeg]);
        return File.ReadAllBytes(jpeg);
    }

    /// <summary>A 16x16 RGB PNG written here, then eXIf (GPS, serial), XMP (iTXt), tEXt, zTXt and tIME from exiftool.</summary>
    public static byte[] PngWithMetadata(string directory)
    {
        var png = Path.Combine(directory, "photo.png");
        File.WriteAllBytes(png, Png(16, 16));
        Run("exiftool", [.. s_metadataArguments, "-PNG:Comment=Hauptstrasse 5", "-overwrite_original", png]);
        // -z: compressed text, so a zTXt chunk is present too; the modify date is the tIME chunk.
        Run("exiftool", ["-z", "-PNG:Author=Erika Mustermann", "-PNG:ModifyDate=2026:01:02 03:04:05", "-overwrite_original", png]);
        return File.ReadAllBytes(png);
    }

    /// <summary>Every tag exiftool finds (numeric values, all groups), as <c>group:name</c> → value.</summary>
    public static Dictionary<string, string> Tags(string directory, byte[] image, string extension)
    {
        var path = Path.Combine(directory, "inspect." + extension);
        File.WriteAllBytes(path, image);
        var json = Run("exiftool", "-j", "-a", "-u", "-n", "-G1", "-b", path);
        using var document = JsonDocument.Parse(json);
        return document.RootElement[0].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString());
    }

    /// <summary>Tags that say something beyond the image's pixels and size (author, place, device, time, text).</summary>
    public static IReadOnlyList<string> MetadataTags(Dictionary<string, string> tags) =>
        tags.Keys.Where(k => !s_allowedTags.Contains(k) && !s_allowedGroups.Any(g => k.StartsWith(g, StringComparison.Ordinal))).ToList();

    /// <summary>Decoded pixels (PPM) of a JPEG, by djpeg.</summary>
    public static byte[] DecodeJpeg(string directory, byte[] jpeg)
    {
        var path = Path.Combine(directory, "decode.jpg");
        var ppm = Path.Combine(directory, "decode.ppm");
        File.WriteAllBytes(path, jpeg);
        Run("djpeg", "-outfile", ppm, path);
        return File.ReadAllBytes(ppm);
    }

    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            throw new TimeoutException($"{tool} did not finish");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {error.Result}");
        }
        return output.Result;
    }

    private static byte[] Ppm(int width, int height)
    {
        var header = Encoding.ASCII.GetBytes($"P6\n{width} {height}\n255\n");
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37) ^ (i >> 3));
        }
        return [.. header, .. pixels];
    }

    private static byte[] Png(int width, int height)
    {
        var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (var x = 0; x < width * 3; x++)
            {
                raw.WriteByte((byte)((x * 11) ^ (y * 7)));
            }
        }
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw.ToArray());
        }
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Writes one chunk; its CRC is computed bit by bit here, independently of the code under test.</summary>
    public static void WriteChunk(Stream png, string type, byte[] data)
    {
        var header = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        png.Write(header);
        png.Write(data);
        var crc = 0xFFFFFFFFu;
        foreach (var b in header.AsSpan(4).ToArray().Concat(data))
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }
        var trailer = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(trailer, ~crc);
        png.Write(trailer);
    }

    /// <summary>The concatenated data of every chunk of <paramref name="type"/> in a PNG.</summary>
    public static byte[] ChunkData(byte[] png, string type)
    {
        var data = new List<byte>();
        var offset = 8;
        while (offset + 8 <= png.Length)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            var name = Encoding.ASCII.GetString(png, offset + 4, 4);
            if (name == type)
            {
                data.AddRange(png.AsSpan(offset + 8, length).ToArray());
            }
            offset += 12 + length;
        }
        return [.. data];
    }

    /// <summary>The chunk types of a PNG, in order.</summary>
    public static List<string> ChunkTypes(byte[] png)
    {
        var types = new List<string>();
        var offset = 8;
        while (offset + 8 <= png.Length)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            types.Add(Encoding.ASCII.GetString(png, offset + 4, 4));
            offset += 12 + length;
        }
        return types;
    }
}
