using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>
/// Reads the fixed header of every MQTT packet as the bytes arrive on a Kestrel connection and aborts the connection
/// when a packet announces more than the limit, before its body is buffered (MQTTnet itself has no packet size limit).
/// Sits between Kestrel's transport (after TLS) and MQTTnet's connection handler.
/// </summary>
internal sealed class PacketSizeGuard(PipeReader inner, long maxRemainingLength, ConnectionContext connection, Action onTooLarge) : PipeReader
{
    private ReadOnlySequence<byte> _last;
    private long _lastStart;   // stream offset of the first byte of the last buffer handed out
    private long _nextPacket;  // stream offset of the next packet's first byte

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        // Every read of the connection passes here: data already buffered is inspected without an async state machine.
        var pending = inner.ReadAsync(cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            var result = pending.Result;
            Inspect(result.Buffer);
            return new ValueTask<ReadResult>(result);
        }
        return InspectWhenReadAsync(pending);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> InspectWhenReadAsync(ValueTask<ReadResult> pending)
    {
        var result = await pending.ConfigureAwait(false);
        Inspect(result.Buffer);
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }
        Inspect(result.Buffer);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _lastStart += _last.Slice(_last.Start, consumed).Length;
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    private void Inspect(ReadOnlySequence<byte> buffer)
    {
        _last = buffer;
        var end = _lastStart + buffer.Length;
        while (_nextPacket < end)
        {
            var reader = new SequenceReader<byte>(buffer.Slice(_nextPacket - _lastStart));
            if (!reader.TryRead(out _))
            {
                return;
            }
            long remaining = 0;
            var complete = false;
            for (var i = 0; i < 4; i++)
            {
                if (!reader.TryRead(out var b))
                {
                    break;
                }
                remaining |= (long)(b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0)
                {
                    complete = true;
                    break;
                }
            }
            if (!complete)
            {
                if (reader.Consumed == 5)
                {
                    Abort("malformed remaining length");
                }
                return;
            }
            if (remaining > maxRemainingLength)
            {
                Abort("packet too large");
            }
            _nextPacket += reader.Consumed + remaining;
        }
    }

    private void Abort(string reason)
    {
        onTooLarge();
        connection.Abort(new ConnectionAbortedException(reason));
        throw new ConnectionAbortedException(reason);
    }
}

/// <summary>The connection's transport with its input behind a <see cref="PacketSizeGuard"/>.</summary>
internal sealed class GuardedTransport(IDuplexPipe inner, PipeReader input) : IDuplexPipe
{
    public PipeReader Input => input;
    public PipeWriter Output => inner.Output;
}
