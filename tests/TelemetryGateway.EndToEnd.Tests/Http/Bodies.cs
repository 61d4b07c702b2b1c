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

    /// <summary>A chunked body sent a piece at a time with a pause between pieces (a slow client), bounded in count.</summary>
    public sealed class Slow(byte[] piece, int pieces, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (var i = 0; i < pieces; i++)
            {
                await stream.WriteAsync(piece);
                await stream.FlushAsync();
                await Task.Delay(pause);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
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
