using System.Buffers;
using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Collects outputs of one purpose (and the same tags) for one upstream into a <c>telemetry.v1.EnvelopeBatch</c>
/// (<c>Gateway:Upstream:Batch</c>): a batch is sent when it holds <see cref="UpstreamBatchOptions.MaxOutputs"/>
/// outputs, when the next output would take it past its byte limit, or when its first output has waited
/// <see cref="UpstreamBatchOptions.Linger"/>; with <see cref="UpstreamBatchOptions.SendWhenIdle"/>, also at once when
/// no batch of its key awaits acknowledgement, and when the last one that did is answered (so acknowledgements pace the
/// batches: one output alone goes without delay, and under load a batch fills while the previous one is in flight). Every output of a batch gets the batch's result, so an output counts as
/// delivered only once the whole batch is acknowledged; a batch that is not acknowledged fails each of its outputs as a
/// transient failure, so they take the outbox's retry path like any output. A batch the upstream rejects is not made a
/// dead letter (the batch, not an output, may be what it refused): its outputs fail transiently and that purpose's
/// outputs go one by one for <see cref="AloneAfterRejection"/>, so each then meets its own answer.
/// </summary>
/// <remarks>
/// Elements are written with Google.Protobuf's <see cref="CodedOutputStream"/> straight into a pooled buffer as they
/// come: the stored envelope's bytes are copied as they are, followed by its topic (field 17), so an output costs no
/// object of its own (each waits on its batch's one task). The buffer goes back to the pool once the publish ends.
/// </remarks>
internal sealed partial class UpstreamBatcher : IDisposable
{
    /// <summary>The content type of a batch publish.</summary>
    public const string ContentType = "application/x-protobuf; proto=telemetry.v1.EnvelopeBatch";

    /// <summary>The last topic level of a batch publish: <c>{prefix}/{purpose}/batch</c>.</summary>
    public const string TopicSuffix = "batch";

    /// <summary>How long a purpose's outputs go one by one after the upstream rejected one of its batches.</summary>
    public static readonly TimeSpan AloneAfterRejection = TimeSpan.FromMinutes(1);

    // Room left in a packet for the batch's fixed header, topic and properties when the upstream announces a maximum.
    private const int PacketHeaderRoom = 1024;

    private readonly UpstreamBatchOptions _options;
    private readonly string _topicPrefix;
    private readonly Func<OutgoingBatch, Task<PublishResult>> _publish;
    private readonly Func<long> _maxPacketSize;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<BatchKey, PendingBatch> _pending = new();
    private volatile bool _disposed;

    /// <param name="options">Linger and bounds.</param>
    /// <param name="topicPrefix">The upstream's topic prefix.</param>
    /// <param name="publish">Sends one sealed batch and returns the upstream's answer; the batch's buffer is returned to the pool after it.</param>
    /// <param name="maxPacketSize">The upstream's Maximum Packet Size from its CONNACK (0: none announced).</param>
    /// <param name="time">The clock of the linger.</param>
    /// <param name="logger">For rejections and failures (purpose and counts only).</param>
    public UpstreamBatcher(
        UpstreamBatchOptions options, string topicPrefix, Func<OutgoingBatch, Task<PublishResult>> publish, Func<long> maxPacketSize, TimeProvider time, ILogger logger)
    {
        _options = options;
        _topicPrefix = topicPrefix;
        _publish = publish;
        _maxPacketSize = maxPacketSize;
        _time = time;
        _logger = logger;
    }

    /// <summary>Batches sent since start.</summary>
    public long BatchesSent => Interlocked.Read(ref _batchesSent);

    private long _batchesSent;

    /// <summary>
    /// Adds <paramref name="message"/> to the batch of its purpose and tags and returns that batch's result in
    /// <paramref name="result"/>; false when the output goes alone: an aggregate (its own tags), a payload that is no
    /// envelope (stored before envelopes were turned on), one too large for a batch, or a purpose whose batch was rejected lately.
    /// </summary>
    public bool TryAdd(UpstreamMessage message, out Task<PublishResult> result)
    {
        result = null!;
        if (_disposed || message.Aggregate is not null || !string.Equals(message.ContentType, UpstreamEncoder.EnvelopeContentType, StringComparison.Ordinal))
        {
            return false;
        }
        var pending = _pending.GetOrAdd(
            new BatchKey(message.Purpose, message.LegalBasis, message.Categories, message.Policy, message.Retention, message.Region, message.Safeguard),
            static (_, state) => new PendingBatch(state.batcher, state.message),
            (batcher: this, message));
        return pending.TryAdd(message, out result);
    }

    /// <summary>Sends every batch still collecting now, without waiting for its linger.</summary>
    public void FlushAll()
    {
        foreach (var pending in _pending.Values)
        {
            pending.Flush();
        }
    }

    /// <summary>Fails every batch not yet sent (its outputs take the retry path) and stops the linger timers.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var pending in _pending.Values)
        {
            pending.Dispose();
        }
    }

    /// <summary>The byte limit of one batch now: the configured one, lowered to what the upstream's maximum packet leaves.</summary>
    private long Limit(UpstreamMessage message)
    {
        var maxPacketSize = _maxPacketSize();
        if (maxPacketSize <= 0)
        {
            return _options.MaxBytes;
        }
        var header = MqttUpstream.EstimatedPacketSize(message) - message.Payload.Length + PacketHeaderRoom;
        return Math.Min(_options.MaxBytes, maxPacketSize - header);
    }

    private async Task SendAsync(OutgoingBatch batch, PendingBatch pending)
    {
        PublishResult result;
        try
        {
            result = await _publish(batch).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The publish's own failures are results; anything else still must not leave the outputs waiting.
            result = PublishResult.ConnectionLost;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch.Buffer);
        }
        Interlocked.Increment(ref _batchesSent);
        if (result.Outcome == PublishOutcome.Rejected)
        {
            pending.AloneUntil(_time.GetUtcNow() + AloneAfterRejection);
            LogRejected(_logger, batch.Count, batch.First.Purpose, result.Reason, AloneAfterRejection.TotalSeconds);
            result = new PublishResult(PublishOutcome.Transient, "batch-rejected");
        }
        else if (result.Outcome == PublishOutcome.Transient)
        {
            LogNotAcknowledged(_logger, batch.Count, batch.First.Purpose, result.Reason);
        }
        batch.Completion.TrySetResult(result);
        pending.Answered();
    }

    [LoggerMessage(EventId = EventIds.BatchRejected, Level = LogLevel.Warning,
        Message = "Upstream rejected a batch of {Count} outputs for {Purpose} ({Reason}); they are sent again, and {Purpose} outputs go one by one for {Seconds} s")]
    private static partial void LogRejected(ILogger logger, int count, string purpose, string reason, double seconds);

    [LoggerMessage(EventId = EventIds.BatchNotAcknowledged, Level = LogLevel.Debug,
        Message = "A batch of {Count} outputs for {Purpose} was not acknowledged ({Reason}); its outputs take the retry path")]
    private static partial void LogNotAcknowledged(ILogger logger, int count, string purpose, string reason);

    /// <summary>The tags every element of one batch shares (they travel as the batch publish's user properties).</summary>
    private readonly record struct BatchKey(string Purpose, string LegalBasis, string Categories, string Policy, string Retention, string Region, string Safeguard);

    /// <summary>The batch being collected for one key, its buffer and writer (reused from batch to batch) and its linger timer.</summary>
    private sealed class PendingBatch : IDisposable
    {
        private static readonly int s_topicTagSize = CodedOutputStream.ComputeTagSize(Envelope17);
        private const int Envelope17 = 17;

        private readonly UpstreamBatcher _batcher;
        private readonly Lock _lock = new();
        private readonly PooledBufferStream _buffer;
        private readonly CodedOutputStream _coded;
        private readonly ITimer _timer;
        private readonly string _topic;
        private TaskCompletionSource<PublishResult>? _completion;
        private UpstreamMessage? _first;
        private int _count;
        private uint _expirySeconds;
        private DateTimeOffset _aloneUntil = DateTimeOffset.MinValue;
        private bool _disposed;

        // Batches of this key handed to the publish and not yet answered.
        private int _inFlight;

        public PendingBatch(UpstreamBatcher batcher, UpstreamMessage first)
        {
            _batcher = batcher;
            _buffer = new PooledBufferStream(Math.Min(batcher._options.MaxBytes, 16 * 1024));
            _coded = new CodedOutputStream(_buffer, 4096, leaveOpen: true);
            _topic = $"{batcher._topicPrefix}/{first.Purpose}/{TopicSuffix}";
            _timer = batcher._time.CreateTimer(static state => ((PendingBatch)state!).Flush(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void AloneUntil(DateTimeOffset until)
        {
            lock (_lock)
            {
                _aloneUntil = until;
            }
        }

        public bool TryAdd(UpstreamMessage message, out Task<PublishResult> result)
        {
            result = null!;
            var topicBytes = System.Text.Encoding.UTF8.GetByteCount(message.Topic);
            var inner = message.Payload.Length + s_topicTagSize + CodedOutputStream.ComputeLengthSize(topicBytes) + topicBytes;
            var size = 1 + CodedOutputStream.ComputeLengthSize(inner) + inner;
            var limit = _batcher.Limit(message);
            if (size > limit)
            {
                return false;
            }
            lock (_lock)
            {
                if (_disposed || _batcher._time.GetUtcNow() < _aloneUntil)
                {
                    return false;
                }
                if (_count > 0 && _buffer.Length + size > limit)
                {
                    SealAndSend();
                }
                if (_count == 0)
                {
                    _completion = new TaskCompletionSource<PublishResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _first = message;
                    _expirySeconds = message.ExpirySeconds;
                    _timer.Change(_batcher._options.Linger, Timeout.InfiniteTimeSpan);
                }
                else if (message.ExpirySeconds > 0 && (_expirySeconds == 0 || message.ExpirySeconds < _expirySeconds))
                {
                    // The batch is kept no longer than its shortest-lived element may be.
                    _expirySeconds = message.ExpirySeconds;
                }
                // Field 1 (envelopes), length-delimited: the stored envelope as it is, then its topic as field 17.
                _coded.WriteTag(1, WireFormat.WireType.LengthDelimited);
                _coded.WriteLength(inner);
                _coded.Flush();
                _buffer.Write(message.Payload);
                _coded.WriteTag(Envelope17, WireFormat.WireType.LengthDelimited);
                _coded.WriteString(message.Topic);
                _coded.Flush();
                _count++;
                result = _completion!.Task;
                if (_count >= _batcher._options.MaxOutputs || (_inFlight == 0 && _batcher._options.SendWhenIdle))
                {
                    SealAndSend();
                }
            }
            return true;
        }

        /// <summary>Sends what is collected (the linger passed, or a flush was asked for).</summary>
        public void Flush()
        {
            lock (_lock)
            {
                if (_count > 0 && !_disposed)
                {
                    SealAndSend();
                }
            }
        }

        /// <summary>
        /// A batch of this key was answered: with <see cref="UpstreamBatchOptions.SendWhenIdle"/>, what was collected
        /// while the last one was in flight goes now rather than at the end of its linger.
        /// </summary>
        public void Answered()
        {
            lock (_lock)
            {
                _inFlight--;
                if (_inFlight == 0 && _count > 0 && !_disposed && _batcher._options.SendWhenIdle)
                {
                    SealAndSend();
                }
            }
        }

        /// <summary>Under the lock: hands the batch to the publish, in the order batches of this key were sealed.</summary>
        private void SealAndSend()
        {
            var batch = Seal();
            _inFlight++;
            _ = _batcher.SendAsync(batch, this);
        }

        private OutgoingBatch Seal()
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            var buffer = _buffer.Take(out var length);
            var batch = new OutgoingBatch(_topic, _first!, _count, buffer, length, _expirySeconds, _completion!);
            _count = 0;
            _first = null;
            _completion = null;
            return batch;
        }

        public void Dispose()
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                if (_count > 0)
                {
                    var batch = Seal();
                    ArrayPool<byte>.Shared.Return(batch.Buffer);
                    batch.Completion.TrySetResult(PublishResult.ConnectionLost);
                }
                _timer.Dispose();
                _coded.Dispose();
                _buffer.Dispose();
            }
        }
    }

    /// <summary>A write-only stream over a buffer rented from the pool, grown by renting a larger one; handed over whole.</summary>
    private sealed class PooledBufferStream(int initialSize) : Stream
    {
        private byte[]? _buffer;
        private int _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var current = _buffer ??= ArrayPool<byte>.Shared.Rent(Math.Max(initialSize, buffer.Length));
            if (current.Length - _length < buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(current.Length * 2, _length + buffer.Length));
                current.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(current);
                _buffer = current = larger;
            }
            buffer.CopyTo(current.AsSpan(_length));
            _length += buffer.Length;
        }

        /// <summary>Hands over the buffer and its length (the taker returns it to the pool); the next write rents another.</summary>
        public byte[] Take(out int length)
        {
            var buffer = _buffer ?? ArrayPool<byte>.Shared.Rent(1);
            length = _length;
            _buffer = null;
            _length = 0;
            return buffer;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// One batch ready to publish: its topic, its first element (whose tags every element shares), how many elements, the
/// encoded <c>EnvelopeBatch</c> (<paramref name="Buffer"/>, pooled, first <paramref name="Length"/> bytes), the message
/// expiry (the shortest of its elements'; 0: none) and what its elements wait on.
/// </summary>
internal sealed record OutgoingBatch(
    string Topic, UpstreamMessage First, int Count, byte[] Buffer, int Length, uint ExpirySeconds, TaskCompletionSource<PublishResult> Completion);
