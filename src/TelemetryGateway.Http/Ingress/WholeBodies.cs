using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Bodies of a format whose rewrite is complete only at the end (JSON, SOLIX, protobuf): read whole, bounded by the
/// route's limit, then put through the pipeline's minimize step (<see cref="Minimizer.MinimizeBody"/>) in one block.
/// </summary>
internal static class WholeBodies
{
    /// <summary>
    /// The minimized body (gzip-compressed again when <paramref name="compress"/>), or why it is rejected. Records nothing:
    /// the caller records the body once it was forwarded.
    /// </summary>
    public static async Task<(byte[]? Body, BodyRejection? Rejection)> MinimizeAsync(
        PipeReader source, IngressRoute route, Minimizer minimizer, bool compress, CancellationToken cancellationToken, GzipRatio? ratio = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return await ReadAndMinimizeAsync(source, route, minimizer, compress, ratio, cancellationToken);
        }
        finally
        {
            // Returns the buffers of a decompressing reader to their pool (and disposes its stream).
            await source.CompleteAsync();
        }
    }

    private static async Task<(byte[]? Body, BodyRejection? Rejection)> ReadAndMinimizeAsync(
        PipeReader source, IngressRoute route, Minimizer minimizer, bool compress, GzipRatio? ratio, CancellationToken cancellationToken)
    {
        ReadResult read;
        try
        {
            while (true)
            {
                read = await source.ReadAsync(cancellationToken);
                if (read.Buffer.Length > route.MaxBodyBytes)
                {
                    source.AdvanceTo(read.Buffer.End);
                    return (null, BodyRejection.TooLarge);
                }
                if (ratio is not null && ratio.IsExceededBy(read.Buffer.Length))
                {
                    source.AdvanceTo(read.Buffer.End);
                    return (null, GzipRatio.Exceeded);
                }
                if (read.IsCompleted)
                {
                    break;
                }
                // Keep everything, ask for more.
                source.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (InvalidDataException)
        {
            return (null, BodyRejection.MalformedGzip);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, BodyRejection.TooLarge);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            return (null, BodyRejection.ClientAborted);
        }
        try
        {
            using var output = new PooledBufferWriter((int)Math.Min(read.Buffer.Length + 64, 64 * 1024));
            var reason = minimizer.MinimizeBody(read.Buffer, isFinalBlock: true, output);
            if (reason != QuarantineReason.None)
            {
                return (null, BodyRejection.Quarantined(reason));
            }
            if (minimizer.BodyWithheld)
            {
                return (null, BodyRejection.Withheld);
            }
            return (compress ? Compress(output.WrittenMemory.Span) : output.WrittenMemory.ToArray(), null);
        }
        finally
        {
            source.AdvanceTo(read.Buffer.End);
        }
    }

    private static byte[] Compress(ReadOnlySpan<byte> body)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(body);
        }
        return compressed.ToArray();
    }
}
