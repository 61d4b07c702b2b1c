namespace TelemetryGateway.Core.Tests.Images;

/// <summary>The test images of one test class, made once in a temporary directory that is deleted afterwards.</summary>
public sealed class TestImageFiles : IDisposable
{
    public TestImageFiles()
    {
        Jpeg = ImageTools.JpegWithMetadata(Directory);
        Png = ImageTools.PngWithMetadata(Directory);
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("tg-images-").FullName;
    public byte[] Jpeg { get; }
    public byte[] Png { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
