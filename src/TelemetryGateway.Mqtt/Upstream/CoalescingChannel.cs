using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using MQTTnet.Exceptions;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// The upstream connection's byte stream, made cheap per packet. MQTTnet's client writes every packet (header and
/// payload separately) with its own send and reads every packet in two or more small reads (fixed header, length,
/// body), so at thousands of outputs a second the gateway spent most of its time in system calls and the thread
/// switches they cause. This channel reads the socket in large chunks and serves MQTTnet's small reads from them, and
/// it queues writes in a pipe that one send loop drains: every packet written while a send is in progress goes out
/// with the next send, however many there are.
/// </summary>
/// <remarks>
/// A write completes once its bytes are queued, not sent; that loses nothing, because an output counts as delivered
/// only when its PUBACK arrives. A failed send closes the connection, so MQTTnet's receive loop ends, the client
/// disconnects and every unacknowledged publish fails over to the outbox. The pipe's pause threshold bounds what is
/// queued (beyond it a write waits for the send loop).
/// </remarks>
internal sealed class CoalescingChannel : IMqttChannel
{
    private const int ReadChunkBytes = 64 * 1024;
    private const int SendChunkBytes = 64 * 1024;
    private const long PauseWriterBytes = 1024 * 1024;

    private readonly IMqttChannel _inner;
    private readonly Pipe _outgoing = new(new PipeOptions(
        pauseWriterThreshold: PauseWriterBytes, resumeWriterThreshold: PauseWriterBytes / 2, useSynchronizationContext: false));
    private readonly byte[] _received = new byte[ReadChunkBytes];
    private readonly byte[] _sendChunk = new byte[SendChunkBytes];

    // MQTTnet serializes packet writes, but a disconnect or dispose may come from another thread while one is under way.
    private readonly Lock _writerLock = new();
    private bool _writerCompleted;
    private int _receivedStart;
    private int _receivedEnd;
    private Task _sendLoop = Task.CompletedTask;
    private volatile Exception? _sendFailure;

    public CoalescingChannel(IMqttChannel inner) => _inner = inner;

    public X509Certificate2 ClientCertificate => _inner.ClientCertificate;

    public EndPoint RemoteEndPoint => _inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => _inner.LocalEndPoint;

    public bool IsSecureConnection => _inner.IsSecureConnection;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _inner.ConnectAsync(cancellationToken).ConfigureAwait(false);
        _sendLoop = Task.Run(SendLoopAsync, CancellationToken.None);
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        // What is queued (the DISCONNECT packet last) goes out before the connection closes.
        CompleteWriter();
        await _sendLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _inner.DisconnectAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var buffered = _receivedEnd - _receivedStart;
        if (buffered == 0)
        {
            return FillAndReadAsync(buffer, offset, count, cancellationToken);
        }
        // Small counts (MQTTnet asks for 1 or 2 header bytes) are served by the runtime's cached completed tasks.
        return Task.FromResult(TakeBuffered(buffer, offset, count));
    }

    private async Task<int> FillAndReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (count >= ReadChunkBytes)
        {
            // A large body is read straight into MQTTnet's buffer.
            return await _inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
        }
        var read = await _inner.ReadAsync(_received, 0, _received.Length, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return 0;
        }
        _receivedStart = 0;
        _receivedEnd = read;
        return TakeBuffered(buffer, offset, count);
    }

    private int TakeBuffered(byte[] buffer, int offset, int count)
    {
        var taken = Math.Min(count, _receivedEnd - _receivedStart);
        _received.AsSpan(_receivedStart, taken).CopyTo(buffer.AsSpan(offset, taken));
        _receivedStart += taken;
        return taken;
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        if (_sendFailure is { } failure)
        {
            return Task.FromException(new MqttCommunicationException("The upstream connection failed while sending.", failure));
        }
        ValueTask<FlushResult> flush;
        lock (_writerLock)
        {
            if (_writerCompleted)
            {
                return Task.FromException(new MqttCommunicationException("The upstream connection is closed."));
            }
            var writer = _outgoing.Writer;
            foreach (var segment in buffer)
            {
                writer.Write(segment.Span);
            }
            if (!isEndOfPacket)
            {
                return Task.CompletedTask;
            }
            flush = writer.FlushAsync(cancellationToken);
        }
        return flush.IsCompletedSuccessfully ? CheckFlush(flush.Result) : AwaitFlushAsync(flush);
    }

    private void CompleteWriter()
    {
        lock (_writerLock)
        {
            if (!_writerCompleted)
            {
                _writerCompleted = true;
                _outgoing.Writer.Complete();
            }
        }
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush) => await CheckFlush(await flush.ConfigureAwait(false)).ConfigureAwait(false);

    private Task CheckFlush(FlushResult result) =>
        result.IsCompleted || result.IsCanceled
            ? Task.FromException(new MqttCommunicationException("The upstream connection is closed.", _sendFailure))
            : Task.CompletedTask;

    private async Task SendLoopAsync()
    {
        var reader = _outgoing.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var queued = result.Buffer;
                while (!queued.IsEmpty)
                {
                    // One send for everything queued (up to a chunk), whatever the pipe's segments.
                    var length = (int)Math.Min(queued.Length, _sendChunk.Length);
                    var chunk = queued.Slice(0, length);
                    chunk.CopyTo(_sendChunk);
                    await _inner.WriteAsync(new ReadOnlySequence<byte>(_sendChunk, 0, length), true, CancellationToken.None).ConfigureAwait(false);
                    queued = queued.Slice(length);
                }
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _sendFailure = e;
            await reader.CompleteAsync(e).ConfigureAwait(false);
            // Closing the socket ends MQTTnet's receive loop, which fails every publish still awaiting its PUBACK.
            _inner.Dispose();
        }
    }

    public void Dispose()
    {
        CompleteWriter();
        _inner.Dispose();
    }
}
