namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// The compressed side of a gzip request body: counts the bytes read from the request, so the decompressed size can be
/// held to the route's expansion ratio. A body may expand freely up to <see cref="SlackBytes"/>; past it, more than
/// ratio times the compressed bytes read so far is a decompression bomb (413), however far it is from the body limit:
/// expanding 4 MB into 1 GiB cost 13 s of CPU before any limit was reached.
/// </summary>
internal sealed class GzipRatio(Stream compressed, int maxRatio) : Stream
{
    public const long SlackBytes = 1024 * 1024;

    private long _read;

    public static BodyRejection Exceeded => new(Microsoft.AspNetCore.Http.StatusCodes.Status413PayloadTooLarge, "gzip-ratio-exceeded");

    /// <summary>Compressed bytes read so far.</summary>
    public long CompressedBytes => Interlocked.Read(ref _read);

    /// <summary>True when <paramref name="decompressed"/> bytes are more than the ratio allows for what was read.</summary>
    public bool IsExceededBy(long decompressed) => decompressed > SlackBytes && decompressed > (double)maxRatio * CompressedBytes;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await compressed.ReadAsync(buffer, cancellationToken);
        Interlocked.Add(ref _read, n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = compressed.Read(buffer, offset, count);
        Interlocked.Add(ref _read, n);
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
