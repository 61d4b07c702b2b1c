using System.Collections.Concurrent;
using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// JSON bodies: read whole (the rewrite's output is complete only at the end of the document), bounded by the
/// route's limit, then minimized for the route's purpose. Minimizers are pooled, one per concurrent request.
/// </summary>
internal sealed class JsonBodies(CompiledPolicy policy, PseudonymizationKey key) : IDisposable
{
    private const int MaxPooled = 16;
    private readonly ConcurrentBag<JsonBodyMinimizer> _pool = [];

    /// <summary>
    /// The minimized body (gzip-compressed again when <paramref name="compress"/>) and what its rewrite did (recorded by
    /// the caller once the body is forwarded), or why it is rejected.
    /// </summary>
    public async Task<(byte[]? Body, ProcessingTally Tally, BodyRejection? Rejection)> MinimizeAsync(
        PipeReader source, IngressRoute route, bool compress, CancellationToken cancellationToken, GzipRatio? ratio = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return await ReadAndMinimizeAsync(source, route, compress, ratio, cancellationToken);
        }
        finally
        {
            // Returns the buffers of a decompressing reader to their pool (and disposes its stream).
            await source.CompleteAsync();
        }
    }

    private async Task<(byte[]? Body, ProcessingTally Tally, BodyRejection? Rejection)> ReadAndMinimizeAsync(
        PipeReader source, IngressRoute route, bool compress, GzipRatio? ratio, CancellationToken cancellationToken)
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
                    return (null, default, BodyRejection.TooLarge);
                }
                if (ratio is not null && ratio.IsExceededBy(read.Buffer.Length))
                {
                    source.AdvanceTo(read.Buffer.End);
                    return (null, default, GzipRatio.Exceeded);
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
            return (null, default, BodyRejection.MalformedGzip);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, default, BodyRejection.TooLarge);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            return (null, default, BodyRejection.ClientAborted);
        }
        try
        {
            var minimizer = _pool.TryTake(out var pooled) ? pooled : new JsonBodyMinimizer(policy, key);
            byte[] output;
            ProcessingTally tally;
            try
            {
                var reason = minimizer.Minimize(route.Purpose, read.Buffer, out var minimized, out tally);
                if (reason != QuarantineReason.None)
                {
                    return (null, default, BodyRejection.Unprocessable(reason.Id()));
                }
                output = compress ? Compress(minimized.Span) : minimized.ToArray();
            }
            finally
            {
                Return(minimizer);
            }
            return (output, tally, null);
        }
        finally
        {
            source.AdvanceTo(read.Buffer.End);
        }
    }

    private void Return(JsonBodyMinimizer minimizer)
    {
        if (_pool.Count < MaxPooled)
        {
            _pool.Add(minimizer);
        }
        else
        {
            minimizer.Dispose();
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

    public void Dispose()
    {
        while (_pool.TryTake(out var minimizer))
        {
            minimizer.Dispose();
        }
    }
}
