using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using MQTTnet.Protocol;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>
/// Reads the fixed header of every MQTT packet as the bytes arrive on a Kestrel connection and aborts the connection
/// when a packet announces more than the limit, before its body is buffered (MQTTnet itself has no packet size limit).
/// On an MQTT 5 connection (the CONNECT's protocol level) it also reads each PUBLISH's properties and closes the
/// connection on a Topic Alias of 0, a protocol error (MQTT 5 §3.3.2.3.4) that MQTTnet cannot see: it decodes 0 as "no
/// alias". Sits between Kestrel's transport (after TLS) and MQTTnet's connection handler.
/// A connection is closed through <paramref name="close"/> first, which has MQTTnet send an MQTT 5 client a DISCONNECT
/// with the reason code (0x95 Packet too large, 0x94 Topic Alias invalid, 0x81 Malformed packet) in order with the
/// packets it is sending (a write here could interleave with MQTTnet's own); the bytes of the offending packet are
/// never handed to MQTTnet. Then the connection is aborted, whatever the close did.
/// An MQTT 3.1.1 CONNECT with clean session and an empty client id (MQTT 3.1.1 §3.1.3.1 lets the server assign one;
/// MQTTnet refuses it) is handed to MQTTnet rewritten with the id <paramref name="assignClientId"/> proposes for its user
/// name (null: none, the CONNECT passes as it is and is refused 0x02); one without clean session gets
/// <see cref="EmptyClientIdWithoutCleanSession"/>, which the site broker refuses 0x02.
/// </summary>
internal sealed class PacketSizeGuard(
    PipeReader inner, long maxRemainingLength, ConnectionContext connection, Func<string, MqttDisconnectReasonCode, Task> close,
    Func<string?, string?>? assignClientId = null) : PipeReader
{
    private static readonly TimeSpan s_closeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The client id an MQTT 3.1.1 CONNECT with an empty one and no clean session is handed on with (refused 0x02).</summary>
    public const string EmptyClientIdWithoutCleanSession = "$empty-client-id-without-clean-session";

    private enum Protocol
    {
        AwaitingConnect,
        Mqtt5,
        Other,
    }

    private enum BodyCheck
    {
        NeedMore,
        Passed,
        TopicAliasZero,
    }

    // The MQTT 3.1.1 CONNECT as MQTTnet gets it (with an assigned client id), until MQTTnet has consumed it, and how many
    // bytes of the connection it stands for (the CONNECT as sent, the first packet).
    private byte[]? _rewrittenConnect;
    private long _connectLength;
    private ReadOnlySequence<byte>? _handedOut;

    private Protocol _protocol;
    private byte _pendingHeader;
    private long _pendingBodyStart = -1; // stream offset of the body of a packet whose start is still to be inspected
    private long _pendingBodyEnd;
    private ReadOnlySequence<byte> _last;
    private (string Reason, MqttDisconnectReasonCode Code)? _refusal;
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
            return _refusal is null ? new ValueTask<ReadResult>(HandOut(result)) : CloseAsync();
        }
        return InspectWhenReadAsync(pending);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> InspectWhenReadAsync(ValueTask<ReadResult> pending)
    {
        var result = await pending.ConfigureAwait(false);
        Inspect(result.Buffer);
        return _refusal is null ? HandOut(result) : await CloseAsync().ConfigureAwait(false);
    }

    /// <summary>What MQTTnet reads: the connection's bytes, or the rewritten CONNECT alone while it is not consumed.</summary>
    private ReadResult HandOut(ReadResult result)
    {
        if (_rewrittenConnect is not { } connect || _lastStart != 0 || result.IsCanceled)
        {
            return result;
        }
        var handedOut = new ReadOnlySequence<byte>(connect);
        _handedOut = handedOut;
        return new ReadResult(handedOut, isCanceled: false, isCompleted: false);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }
        Inspect(result.Buffer);
        if (_refusal is not null)
        {
            // MQTTnet's reader awaits ReadAsync; a synchronous caller gets the connection closed at once.
            _ = CloseAsync().AsTask();
            throw new ConnectionAbortedException(_refusal.Value.Reason);
        }
        result = HandOut(result);
        return true;
    }

    /// <summary>
    /// Closes the connection: the DISCONNECT through MQTTnet (bounded in time), then the abort. MQTTnet's reader, waiting
    /// here, sees the connection aborted; the offending packet is never returned to it.
    /// </summary>
    private async ValueTask<ReadResult> CloseAsync()
    {
        var (reason, code) = _refusal!.Value;
        try
        {
            await close(reason, code).WaitAsync(s_closeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The abort below closes it anyway.
        }
        connection.Abort(new ConnectionAbortedException(reason));
        throw new ConnectionAbortedException(reason);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_handedOut is { } handedOut)
        {
            // Positions in the rewritten CONNECT: MQTTnet consumes a packet whole or not at all.
            _handedOut = null;
            var connectEnd = _last.GetPosition(_connectLength);
            if (handedOut.Slice(handedOut.Start, consumed).Length == handedOut.Length)
            {
                _rewrittenConnect = null;
                _lastStart += _connectLength;
                inner.AdvanceTo(connectEnd, connectEnd);
            }
            else
            {
                inner.AdvanceTo(_last.Start, handedOut.Slice(handedOut.Start, examined).Length == handedOut.Length ? connectEnd : _last.Start);
            }
            return;
        }
        _lastStart += _last.Slice(_last.Start, consumed).Length;
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    private void Inspect(ReadOnlySequence<byte> buffer)
    {
        _last = buffer;
        if (_refusal is not null)
        {
            return;
        }
        var end = _lastStart + buffer.Length;
        if (_pendingBodyStart >= 0 && !InspectPendingBody(buffer, end))
        {
            return;
        }
        while (_nextPacket < end)
        {
            var reader = new SequenceReader<byte>(buffer.Slice(_nextPacket - _lastStart));
            if (!reader.TryRead(out var first))
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
                    Refuse("malformed remaining length", MqttDisconnectReasonCode.MalformedPacket);
                }
                return;
            }
            if (remaining > maxRemainingLength)
            {
                Refuse("packet too large", MqttDisconnectReasonCode.PacketTooLarge);
                return;
            }
            var bodyStart = _nextPacket + reader.Consumed;
            _nextPacket = bodyStart + remaining;
            if (_protocol == Protocol.AwaitingConnect || (_protocol == Protocol.Mqtt5 && (first & 0xF0) == 0x30))
            {
                _pendingHeader = first;
                _pendingBodyStart = bodyStart;
                _pendingBodyEnd = _nextPacket;
                if (!InspectPendingBody(buffer, end))
                {
                    return;
                }
            }
        }
    }

    /// <summary>Inspects the start of the pending packet's body; false while more bytes are needed for that.</summary>
    private bool InspectPendingBody(ReadOnlySequence<byte> buffer, long end)
    {
        if (_pendingBodyStart < _lastStart)
        {
            // Consumed already (only whole packets are): nothing left to see.
            _pendingBodyStart = -1;
            return true;
        }
        var complete = end >= _pendingBodyEnd;
        var body = buffer.Slice(_pendingBodyStart - _lastStart, Math.Min(end, _pendingBodyEnd) - _pendingBodyStart);
        BodyCheck check;
        if (_protocol == Protocol.AwaitingConnect)
        {
            check = CheckConnect(body, (_pendingHeader & 0xF0) == 0x10, complete);
        }
        else
        {
            check = CheckPublish(body, (_pendingHeader >> 1) & 3);
        }
        if (check == BodyCheck.NeedMore && !complete)
        {
            return false;
        }
        _pendingBodyStart = -1;
        if (check == BodyCheck.TopicAliasZero)
        {
            Refuse("topic alias 0", MqttDisconnectReasonCode.TopicAliasInvalid);
            return false;
        }
        return true;
    }

    private BodyCheck CheckConnect(ReadOnlySequence<byte> body, bool isConnect, bool complete)
    {
        var reader = new SequenceReader<byte>(body);
        if (!isConnect)
        {
            // Not a CONNECT first: MQTTnet refuses the connection; nothing to inspect.
            _protocol = Protocol.Other;
            return BodyCheck.Passed;
        }
        if (!reader.TryReadBigEndian(out short nameLength) || !Skip(ref reader, nameLength) || !reader.TryRead(out var level))
        {
            // Called again with more bytes, unless the CONNECT is complete (then MQTTnet refuses it).
            _protocol = complete ? Protocol.Other : Protocol.AwaitingConnect;
            return complete ? BodyCheck.Passed : BodyCheck.NeedMore;
        }
        if (level == 4 && nameLength == 4 && assignClientId is not null)
        {
            // Flags, keep alive, client id length: an empty id with clean session is assigned one, with the whole CONNECT.
            if (!reader.TryRead(out var flags) || !Skip(ref reader, 2) || !reader.TryReadBigEndian(out short idLength))
            {
                _protocol = complete ? Protocol.Other : Protocol.AwaitingConnect;
                return complete ? BodyCheck.Passed : BodyCheck.NeedMore;
            }
            if (idLength == 0)
            {
                if (!complete)
                {
                    return BodyCheck.NeedMore;
                }
                RewriteConnect(body, flags);
            }
        }
        _protocol = level == 5 ? Protocol.Mqtt5 : Protocol.Other;
        return BodyCheck.Passed;
    }

    /// <summary>The MQTT 3.1.1 CONNECT <paramref name="body"/> (complete, empty client id) with the id the security proposes.</summary>
    private void RewriteConnect(ReadOnlySequence<byte> body, byte flags)
    {
        // The CONNECT's fixed part (protocol name, level, flags, keep alive) is 10 bytes; the empty id's length 2 more.
        const int FixedPart = 10;
        var reader = new SequenceReader<byte>(body.Slice(FixedPart + 2));
        string? userName = null;
        var willSkipped = (flags & 0x04) == 0
            || (reader.TryReadBigEndian(out short topicLength) && Skip(ref reader, (ushort)topicLength)
                && reader.TryReadBigEndian(out short willLength) && Skip(ref reader, (ushort)willLength));
        if (willSkipped && (flags & 0x80) != 0 && reader.TryReadBigEndian(out short userLength) && reader.Remaining >= (ushort)userLength)
        {
            userName = System.Text.Encoding.UTF8.GetString(reader.UnreadSequence.Slice(0, (ushort)userLength).ToArray());
        }
        // Without clean session MQTTnet's decoder would throw and drop the connection without a CONNACK: the reserved id
        // has the site broker answer 0x02 Identifier rejected instead, as MQTT 3.1.1 §3.1.3.1 says.
        var clientId = (flags & 0x02) == 0 ? EmptyClientIdWithoutCleanSession : willSkipped ? assignClientId!(userName) : null;
        if (clientId is not { Length: > 0 and <= 65535 })
        {
            return; // Malformed (MQTTnet refuses it) or no id to give.
        }
        var id = System.Text.Encoding.UTF8.GetBytes(clientId);
        var remaining = body.Length + id.Length;
        var header = new List<byte>(5) { 0x10 };
        do
        {
            var b = (byte)(remaining & 0x7F);
            remaining >>= 7;
            header.Add(remaining > 0 ? (byte)(b | 0x80) : b);
        }
        while (remaining > 0);
        var packet = new byte[header.Count + body.Length + id.Length];
        header.CopyTo(packet);
        var at = header.Count;
        body.Slice(0, FixedPart).CopyTo(packet.AsSpan(at));
        at += FixedPart;
        packet[at++] = (byte)(id.Length >> 8);
        packet[at++] = (byte)id.Length;
        id.CopyTo(packet, at);
        at += id.Length;
        body.Slice(FixedPart + 2).CopyTo(packet.AsSpan(at));
        _rewrittenConnect = packet;
        _connectLength = _pendingBodyEnd;
    }

    private static BodyCheck CheckPublish(ReadOnlySequence<byte> body, int qos)
    {
        var reader = new SequenceReader<byte>(body);
        if (!reader.TryReadBigEndian(out short topicLength) || !Skip(ref reader, (ushort)topicLength) || (qos > 0 && !Skip(ref reader, 2))
            || !TryReadVariableInteger(ref reader, out var propertiesLength))
        {
            return BodyCheck.NeedMore;
        }
        if (reader.Remaining < propertiesLength)
        {
            return BodyCheck.NeedMore;
        }
        var properties = new SequenceReader<byte>(reader.UnreadSequence.Slice(0, propertiesLength));
        while (properties.TryRead(out var id))
        {
            if (id == 0x23)
            {
                if (!properties.TryReadBigEndian(out short alias))
                {
                    return BodyCheck.Passed;
                }
                if (alias == 0)
                {
                    return BodyCheck.TopicAliasZero;
                }
                continue;
            }
            var known = id switch
            {
                0x01 => Skip(ref properties, 1),
                0x02 => Skip(ref properties, 4),
                0x0B => TryReadVariableInteger(ref properties, out _),
                0x03 or 0x08 or 0x09 => properties.TryReadBigEndian(out short length) && Skip(ref properties, (ushort)length),
                0x26 => properties.TryReadBigEndian(out short key) && Skip(ref properties, (ushort)key)
                    && properties.TryReadBigEndian(out short value) && Skip(ref properties, (ushort)value),
                _ => false,
            };
            if (!known)
            {
                // Malformed or unknown: MQTTnet's decoder decides.
                return BodyCheck.Passed;
            }
        }
        return BodyCheck.Passed;
    }

    private static bool Skip(ref SequenceReader<byte> reader, long count)
    {
        if (reader.Remaining < count)
        {
            return false;
        }
        reader.Advance(count);
        return true;
    }

    private static bool TryReadVariableInteger(ref SequenceReader<byte> reader, out int value)
    {
        value = 0;
        for (var i = 0; i < 4; i++)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }
            value |= (b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }
        return false;
    }

    private void Refuse(string reason, MqttDisconnectReasonCode code) => _refusal ??= (reason, code);
}

/// <summary>The connection's transport with its input behind a <see cref="PacketSizeGuard"/>.</summary>
internal sealed class GuardedTransport(IDuplexPipe inner, PipeReader input) : IDuplexPipe
{
    public PipeReader Input => input;
    public PipeWriter Output => inner.Output;
}
