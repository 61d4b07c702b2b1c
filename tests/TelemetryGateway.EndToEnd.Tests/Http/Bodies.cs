using System.IO.Compression;
using System.Net.Http.Headers;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>Request bodies the HTTP ingress tests send, and gzip both ways.</summary>
internal static class Bodies
{
    public static ByteArrayContent Json(byte[] payload) => Content(payload, "application/json");

    public static ByteArrayContent Text(byte[] payload) => Content(payload, "text/plain");

    public static ByteArrayContent Content(byte[] payload, string mediaType)
    {
        var content = new ByteArrayContent(payload);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }

    public static byte[] Gunzip(byte[] data)
    {
        using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }
}
