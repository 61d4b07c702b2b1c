using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TelemetryGateway.LoadTest.Mqtt;

/// <summary>Receives the PUBLISH packets of a subscribing <see cref="MinimalMqttClient"/>, on its receive loop.</summary>
internal interface IPublishReceiver
{
    /// <param name="topic">The topic name (UTF-8), valid only during the call.</param>
    /// <param name="payload">The payload, valid only during the call.</param>
    /// <param name="receivedTimestamp"><see cref="Stopwatch.GetTimestamp"/> when the bytes carrying the packet were read.</param>
    void OnPublish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, long receivedTimestamp);
}

/// <summary>
/// A deliberately small MQTT 3.1.1 client for load generation, so the generator is never the bottleneck it measures.
/// Publishing is pipelined: a caller takes up to a window of QoS 1 packet ids at once, appends that many PUBLISH
/// packets to one buffer and writes them with one call; PUBACKs release the window in bulk. As a subscriber it
/// acknowledges every QoS 1 PUBLISH read in one socket read with one write. Keep-alive is 0 (no pings), no TLS,
/// no QoS 2, no retained or will messages: only what the load benchmark needs.
/// </summary>
/// <remarks>One publisher per client: <see cref="AcquireAsync"/>, <see cref="AppendPublish"/> and
/// <see cref="FlushAsync"/> must not be called concurrently.</remarks>
internal sealed class MinimalMqttClient : IAsyncDisposable
{
    private const int MaxPacketSize = 1024 * 1024;
    private const byte PublishType = 3;
    private const byte PubAckType = 4;
    private const byte SubAckType = 9;
    private const byte PingRespType = 13;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _window;
    private readonly int _windowSize;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _pending = new(16 * 1024);
    private readonly CancellationTokenSource _lifetime;
    private readonly IPublishReceiver? _receiver;
    private Task _receiveLoop = Task.CompletedTask;
    private TaskCompletionSource<byte>? _subAck;
    private ushort _lastPacketId;
    private long _acknowledged;
    private long _lastAcknowledgedTimestamp;
    private int _disposed;
    private volatile bool _disconnecting;

    private MinimalMqttClient(Socket socket, int windowSize, IPublishReceiver? receiver, CancellationToken cancellationToken)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _windowSize = windowSize;
        _window = new SemaphoreSlim(windowSize, windowSize);
        _receiver = receiver;
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Client id given at connect.</summary>
    public required string ClientId { get; init; }

    /// <summary>QoS 1 publishes acknowledged by the broker so far.</summary>
    public long Acknowledged => Volatile.Read(ref _acknowledged);

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the bytes carrying the latest PUBACK were read (0 before the first).</summary>
    public long LastAcknowledgedTimestamp => Volatile.Read(ref _lastAcknowledgedTimestamp);

    /// <summary>Why the connection ended, when it ended other than by <see cref="DisposeAsync"/>.</summary>
    public string? ConnectionError { get; private set; }

    /// <summary>
    /// Connects, sends CONNECT (clean session, keep-alive 0) and waits, at most <c>timeout</c>, for a successful CONNACK.
    /// <c>windowSize</c> QoS 1 publishes may await their PUBACK at once; <c>receiver</c> gets the PUBLISH packets of
    /// subscriptions (null for a publisher); <c>cancellationToken</c> ends the connection's whole life.
    /// </summary>
    public static async Task<MinimalMqttClient> ConnectAsync(
        IPEndPoint endpoint, string clientId, int windowSize, IPublishReceiver? receiver, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(windowSize, 65_535);
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(timeout);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        MinimalMqttClient? client = null;
        try
        {
            await socket.ConnectAsync(endpoint, connectTimeout.Token);
            client = new MinimalMqttClient(socket, windowSize, receiver, cancellationToken) { ClientId = clientId };
            await client._stream.WriteAsync(BuildConnect(clientId), connectTimeout.Token);
            var connAck = new byte[4];
            await client._stream.ReadExactlyAsync(connAck, connectTimeout.Token);
            if (connAck[0] != 0x20 || connAck[1] != 2)
            {
                throw new MqttProtocolException($"{clientId}: expected CONNACK from {endpoint}, got packet 0x{connAck[0]:X2}");
            }
            if (connAck[3] != 0)
            {
                throw new MqttProtocolException($"{clientId}: {endpoint} refused the connection, CONNACK return code {connAck[3]}");
            }
            client._receiveLoop = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
            return client;
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }
            throw;
        }
    }

    /// <summary>Subscribes to one topic filter and waits for the SUBACK; throws if the broker refuses it.</summary>
    public async Task SubscribeAsync(string topicFilter, byte qos, TimeSpan timeout)
    {
        var filter = Encoding.UTF8.GetBytes(topicFilter);
        var remaining = 2 + 2 + filter.Length + 1;
        var packet = new byte[1 + VariableLengthSize(remaining) + remaining];
        packet[0] = 0x82;
        var offset = 1 + WriteVariableLength(packet.AsSpan(1), remaining);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(offset), NextPacketId());
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(offset + 2), (ushort)filter.Length);
        filter.CopyTo(packet.AsSpan(offset + 4));
        packet[^1] = qos;

        var subAck = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        _subAck = subAck;
        await WriteLockedAsync(packet, _lifetime.Token);
        var code = await subAck.Task.WaitAsync(timeout, _lifetime.Token);
        if (code == 0x80)
        {
            throw new MqttProtocolException($"{ClientId}: the broker refused the subscription to '{topicFilter}'");
        }
    }

    /// <summary>
    /// Waits until at least one QoS 1 packet id is free, then takes as many more as are free, up to
    /// <paramref name="wanted"/>; returns how many the caller may publish now. QoS 0 needs no window.
    /// </summary>
    public async ValueTask<int> AcquireAsync(int wanted, byte qos)
    {
        if (qos == 0)
        {
            return wanted;
        }
        await _window.WaitAsync(_lifetime.Token);
        var taken = 1;
        while (taken < wanted && _window.Wait(0))
        {
            taken++;
        }
        return taken;
    }

    /// <summary>Appends one PUBLISH packet to the pending buffer; <see cref="FlushAsync"/> sends it.</summary>
    public void AppendPublish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, byte qos)
    {
        var remaining = 2 + topic.Length + (qos > 0 ? 2 : 0) + payload.Length;
        var size = 1 + VariableLengthSize(remaining) + remaining;
        var span = _pending.GetSpan(size);
        span[0] = (byte)(0x30 | (qos << 1));
        var offset = 1 + WriteVariableLength(span[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)topic.Length);
        offset += 2;
        topic.CopyTo(span[offset..]);
        offset += topic.Length;
        if (qos > 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[offset..], NextPacketId());
            offset += 2;
        }
        payload.CopyTo(span[offset..]);
        _pending.Advance(size);
    }

    /// <summary>Writes every appended packet with one socket write.</summary>
    public async ValueTask FlushAsync()
    {
        if (_pending.WrittenCount == 0)
        {
            return;
        }
        await WriteLockedAsync(_pending.WrittenMemory, _lifetime.Token);
        _pending.ResetWrittenCount();
    }

    /// <summary>Waits until every QoS 1 publish sent so far is acknowledged.</summary>
    public async Task WaitForAllAcknowledgedAsync()
    {
        for (var i = 0; i < _windowSize; i++)
        {
            await _window.WaitAsync(_lifetime.Token);
        }
        _window.Release(_windowSize);
    }

    /// <summary>Sends DISCONNECT (best effort) and closes the connection.</summary>
    public async Task DisconnectAsync()
    {
        if (Volatile.Read(ref _disposed) != 0 || _lifetime.IsCancellationRequested)
        {
            return;
        }
        _disconnecting = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await WriteLockedAsync(new byte[] { 0xE0, 0x00 }, timeout.Token);
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going away anyway.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _lifetime.CancelAsync();
        _socket.Dispose();
        try
        {
            await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // The loop ends on the closed socket; do not hang shutdown on it.
        }
        await _stream.DisposeAsync();
        _lifetime.Dispose();
        _window.Dispose();
        _writeLock.Dispose();
    }

    private async ValueTask WriteLockedAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private ushort NextPacketId()
    {
        _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
        return _lastPacketId;
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var acks = new ArrayBufferWriter<byte>(4 * 1024);
        int start = 0, end = 0;
        var token = _lifetime.Token;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }
                    else
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                }
                var read = await _stream.ReadAsync(buffer.AsMemory(end), token);
                if (read == 0)
                {
                    if (!_disconnecting)
                    {
                        ConnectionError ??= "the broker closed the connection";
                    }
                    break;
                }
                var receivedTimestamp = Stopwatch.GetTimestamp();
                end += read;
                var pubAcks = 0;
                while (TryReadPacket(buffer.AsSpan(start, end - start), out var header, out var headerLength, out var length))
                {
                    var body = buffer.AsSpan(start + headerLength, length);
                    switch (header >> 4)
                    {
                        case PubAckType:
                            pubAcks++;
                            break;
                        case PublishType:
                            HandlePublish(header, body, receivedTimestamp, acks);
                            break;
                        case SubAckType:
                            _subAck?.TrySetResult(body.Length >= 3 ? body[2] : (byte)0x80);
                            break;
                        case PingRespType:
                            break;
                        default:
                            throw new MqttProtocolException($"{ClientId}: unexpected packet type {header >> 4}");
                    }
                    start += headerLength + length;
                }
                if (start == end)
                {
                    start = end = 0;
                }
                if (pubAcks > 0)
                {
                    Volatile.Write(ref _lastAcknowledgedTimestamp, receivedTimestamp);
                    Interlocked.Add(ref _acknowledged, pubAcks);
                    _window.Release(pubAcks);
                }
                if (acks.WrittenCount > 0)
                {
                    await WriteLockedAsync(acks.WrittenMemory, token);
                    acks.ResetWrittenCount();
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed, or the run's time limit.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or MqttProtocolException or SemaphoreFullException)
        {
            if (!_disconnecting)
            {
                ConnectionError ??= e.Message;
            }
        }
        finally
        {
            // Wake a publisher waiting for the window or a SUBACK: the connection is gone.
            _subAck?.TrySetException(new MqttProtocolException($"{ClientId}: connection closed: {ConnectionError}"));
            try
            {
                await _lifetime.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // Already disposed.
            }
        }
    }

    private void HandlePublish(byte header, ReadOnlySpan<byte> body, long receivedTimestamp, ArrayBufferWriter<byte> acks)
    {
        var qos = (header >> 1) & 3;
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var topic = body.Slice(2, topicLength);
        var offset = 2 + topicLength;
        if (qos > 0)
        {
            var packetId = body.Slice(offset, 2);
            offset += 2;
            var ack = acks.GetSpan(4);
            ack[0] = (byte)(qos == 1 ? 0x40 : 0x50);
            ack[1] = 2;
            packetId.CopyTo(ack[2..]);
            acks.Advance(4);
        }
        _receiver?.OnPublish(topic, body[offset..], receivedTimestamp);
    }

    private static bool TryReadPacket(ReadOnlySpan<byte> data, out byte header, out int headerLength, out int length)
    {
        header = 0;
        headerLength = 0;
        length = 0;
        if (data.Length < 2)
        {
            return false;
        }
        header = data[0];
        var multiplier = 1;
        for (var i = 1; i <= 4; i++)
        {
            if (i >= data.Length)
            {
                return false;
            }
            length += (data[i] & 0x7F) * multiplier;
            if ((data[i] & 0x80) == 0)
            {
                headerLength = i + 1;
                if (length > MaxPacketSize)
                {
                    throw new MqttProtocolException($"packet of {length} bytes exceeds the {MaxPacketSize}-byte limit");
                }
                return data.Length >= headerLength + length;
            }
            multiplier *= 128;
        }
        throw new MqttProtocolException("malformed remaining length");
    }

    /// <summary>CONNECT: MQTT 3.1.1, clean session, keep-alive 0.</summary>
    internal static byte[] BuildConnect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        var remaining = 10 + 2 + id.Length;
        var packet = new byte[1 + VariableLengthSize(remaining) + remaining];
        packet[0] = 0x10;
        var offset = 1 + WriteVariableLength(packet.AsSpan(1), remaining);
        "\0\u0004MQTT"u8.CopyTo(packet.AsSpan(offset));
        packet[offset + 6] = 4; // protocol level 3.1.1
        packet[offset + 7] = 0x02; // clean session
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(offset + 8), 0); // keep-alive off
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(offset + 10), (ushort)id.Length);
        id.CopyTo(packet.AsSpan(offset + 12));
        return packet;
    }

    private static int VariableLengthSize(int value) => value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;

    private static int WriteVariableLength(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            destination[i++] = value > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (value > 0);
        return i;
    }
}

/// <summary>The broker sent something <see cref="MinimalMqttClient"/> does not expect, or refused a request.</summary>
internal sealed class MqttProtocolException(string message) : Exception(message);
