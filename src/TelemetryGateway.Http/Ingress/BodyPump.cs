using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Moves a request body through the pipeline's minimize step (<see cref="Minimizer.MinimizeBody"/>, for a format that
/// streams) into the pipe the forwarded request reads from, block by block.
/// The pipe's pause threshold holds the pump back while the upstream is slower, so memory stays bounded whatever the
/// body's size. A rejection completes the pipe with <see cref="BodyRejectedException"/>, which aborts the forwarded
/// request (the cloud never sees a complete body).
/// </summary>
internal static class BodyPump
{
    // Input gathered before it is rewritten and flushed: small against the pipe's pause threshold.
    private const int BatchBytes = 64 * 1024;

    public static PipeOptions PipeOptions { get; } = new(
        pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    /// <summary>Pumps until the body ends, is rejected, or the forwarded request stops reading; returns the rejection, if any.</summary>
    public static async Task<BodyRejection?> RunAsync(
        PipeReader source, Minimizer minimizer, PipeWriter destination, bool compress, long maxBytes, CancellationToken cancellationToken,
        GzipRatio? ratio = null)
    {
        BodyRejection? rejection = null;
        Exception? failure = null;
        using var plain = compress ? new PooledBufferWriter(64 * 1024) : null;
        var gzip = compress ? new GZipStream(destination.AsStream(leaveOpen: true), CompressionLevel.Fastest, leaveOpen: false) : null;
        try
        {
            long total = 0;
            while (true)
            {
                var read = await source.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                if (!read.IsCompleted && buffer.Length < BatchBytes && total + buffer.Length <= maxBytes)
                {
                    // Socket reads are small; a rewrite and a flush per batch instead of per read costs far less.
                    source.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                total += buffer.Length;
                if (total > maxBytes)
                {
                    source.AdvanceTo(buffer.End);
                    rejection = BodyRejection.TooLarge;
                    break;
                }
                if (ratio is not null && ratio.IsExceededBy(total))
                {
                    source.AdvanceTo(buffer.End);
                    rejection = GzipRatio.Exceeded;
                    break;
                }
                var reason = minimizer.MinimizeBody(buffer, read.IsCompleted, (System.Buffers.IBufferWriter<byte>?)plain ?? destination);
                source.AdvanceTo(buffer.End);
                if (reason != QuarantineReason.None)
                {
                    rejection = BodyRejection.Quarantined(reason);
                    break;
                }
                if (gzip is not null)
                {
                    await gzip.WriteAsync(plain!.WrittenMemory, cancellationToken);
                    plain.Reset();
                }
                var flush = await destination.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    // The forwarded request stopped reading (upstream failure): YARP reports that itself.
                    return null;
                }
                if (read.IsCompleted)
                {
                    break;
                }
            }
            if (rejection is null && gzip is not null)
            {
                // Writes the gzip trailer.
                await gzip.DisposeAsync();
                gzip = null;
            }
        }
        catch (InvalidDataException)
        {
            rejection = BodyRejection.MalformedGzip;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            rejection = BodyRejection.TooLarge;
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            rejection = BodyRejection.ClientAborted;
            failure = e;
        }
        finally
        {
            if (gzip is not null)
            {
                // Not written further: a rejected or failed body gets no trailer.
                try
                {
                    await gzip.DisposeAsync();
                }
                catch (InvalidOperationException)
                {
                    // The pipe may already be completed by its reader.
                }
            }
            await source.CompleteAsync();
        }
        await destination.CompleteAsync(rejection is { } r ? new BodyRejectedException(r) : failure);
        return rejection;
    }
}
