using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using MQTTnet.Exceptions;
using MQTTnet.Implementations;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>
/// The upstream's byte stream over a real loopback TCP connection (MQTTnet's own TCP channel underneath), with the
/// calls into that channel counted and, where a test needs a send in progress, held.
/// </summary>
public sealed class CoalescingChannelTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private TcpListener? _listener;
    private TcpClient? _client;
    private Socket? _peer;
    private CountingChannel? _inner;

    public async Task InitializeAsync()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _client = new TcpClient();
        var accepting = _listener.AcceptSocketAsync();
        await _client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        _peer = await accepting;
        var stream = _client.GetStream();
        _inner = new CountingChannel(new MqttTcpChannel(stream, _client.Client.LocalEndPoint!, _client.Client.RemoteEndPoint!, null!));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        _inner?.Dispose();
        _peer?.Dispose();
        _client?.Dispose();
        _listener?.Dispose();
    }

    [Fact]
    public async Task Packets_written_while_a_send_is_in_progress_leave_together_in_order()
    {
        var inner = _inner!;
        inner.HoldWrites();
        var channel = await ConnectedAsync(inner);
        var packets = Enumerable.Range(0, 20).Select(Packet).ToArray();

        await channel.WriteAsync(new ReadOnlySequence<byte>(packets[0]), true, CancellationToken.None).WaitAsync(Timeout);
        await inner.FirstWriteStarted.WaitAsync(Timeout);
        foreach (var packet in packets[1..])
        {
            // Each write completes once queued, while the first send is still held.
            await channel.WriteAsync(new ReadOnlySequence<byte>(packet), true, CancellationToken.None).WaitAsync(Timeout);
        }
        inner.ReleaseWrites();

        var expected = packets.SelectMany(p => p).ToArray();
        Assert.Equal(expected, await ReceiveAsync(expected.Length));
        Assert.Equal(2, inner.Writes);
    }

    [Fact]
    public async Task A_packet_written_in_parts_leaves_only_when_complete()
    {
        var channel = await ConnectedAsync(_inner!);
        var packet = Packet(7);

        await channel.WriteAsync(new ReadOnlySequence<byte>(packet, 0, 3), false, CancellationToken.None);
        await Task.Delay(50);
        Assert.Equal(0, _inner!.Writes);
        await channel.WriteAsync(new ReadOnlySequence<byte>(packet, 3, packet.Length - 3), true, CancellationToken.None);

        Assert.Equal(packet, await ReceiveAsync(packet.Length));
        Assert.Equal(1, _inner.Writes);
    }

    [Fact]
    public async Task Small_reads_are_served_from_one_socket_read()
    {
        var channel = await ConnectedAsync(_inner!);
        // Three PUBACKs (MQTT 5, reason code omitted) arriving in one segment, read as MQTTnet reads them: header, then body.
        byte[] acknowledgements = [0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x02, 0x40, 0x02, 0x00, 0x03];
        await _peer!.SendAsync(acknowledgements);
        await WaitForAsync(() => _client!.Client.Available == acknowledgements.Length);

        var read = new List<byte>();
        var buffer = new byte[2];
        while (read.Count < acknowledgements.Length)
        {
            var count = await channel.ReadAsync(buffer, 0, 2, CancellationToken.None).WaitAsync(Timeout);
            Assert.True(count > 0);
            read.AddRange(buffer.AsSpan(0, count).ToArray());
        }

        Assert.Equal(acknowledgements, read);
        Assert.Equal(1, _inner!.Reads);
    }

    [Fact]
    public async Task A_closed_connection_reads_as_the_end_of_the_stream()
    {
        var channel = await ConnectedAsync(_inner!);
        _peer!.Shutdown(SocketShutdown.Send);

        Assert.Equal(0, await channel.ReadAsync(new byte[16], 0, 16, CancellationToken.None).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_failed_send_fails_the_next_write_and_closes_the_connection()
    {
        var inner = _inner!;
        inner.FailWrites();
        var channel = await ConnectedAsync(inner);

        await channel.WriteAsync(new ReadOnlySequence<byte>(Packet(1)), true, CancellationToken.None);
        await WaitForAsync(() => inner.Disposed);
        var exception = await Assert.ThrowsAsync<MqttCommunicationException>(
            () => channel.WriteAsync(new ReadOnlySequence<byte>(Packet(2)), true, CancellationToken.None));

        Assert.Contains("failed while sending", exception.Message, StringComparison.Ordinal);
        // The socket is closed, so MQTTnet's receive loop ends and the client fails every unacknowledged publish over.
        Assert.Equal(0, await _peer!.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task Disconnecting_sends_everything_queued_first()
    {
        var inner = _inner!;
        inner.HoldWrites();
        var channel = await ConnectedAsync(inner);
        var packets = Enumerable.Range(0, 5).Select(Packet).ToArray();
        foreach (var packet in packets)
        {
            await channel.WriteAsync(new ReadOnlySequence<byte>(packet), true, CancellationToken.None);
        }
        await inner.FirstWriteStarted.WaitAsync(Timeout);

        var disconnecting = channel.DisconnectAsync(CancellationToken.None);
        Assert.False(disconnecting.IsCompleted);
        inner.ReleaseWrites();
        await disconnecting.WaitAsync(Timeout);

        var expected = packets.SelectMany(p => p).ToArray();
        Assert.Equal(expected, await ReceiveAsync(expected.Length));
    }

    [Fact]
    public async Task A_write_after_the_disconnect_is_refused_as_a_closed_connection()
    {
        var channel = await ConnectedAsync(_inner!);
        await channel.DisconnectAsync(CancellationToken.None).WaitAsync(Timeout);

        var exception = await Assert.ThrowsAsync<MqttCommunicationException>(
            () => channel.WriteAsync(new ReadOnlySequence<byte>(Packet(1)), true, CancellationToken.None));

        Assert.Contains("closed", exception.Message, StringComparison.Ordinal);
    }

    private static async Task<CoalescingChannel> ConnectedAsync(CountingChannel inner)
    {
        var channel = new CoalescingChannel(inner);
        await channel.ConnectAsync(CancellationToken.None);
        return channel;
    }

    /// <summary>A PUBLISH-shaped packet whose bytes tell which one it is.</summary>
    private static byte[] Packet(int index) => [0x30, 0x05, 0x00, 0x01, (byte)'t', (byte)index, (byte)(index * 7)];

    private async Task<byte[]> ReceiveAsync(int length)
    {
        var received = new byte[length];
        var total = 0;
        while (total < length)
        {
            var count = await _peer!.ReceiveAsync(received.AsMemory(total)).AsTask().WaitAsync(Timeout);
            Assert.True(count > 0, "the connection closed early");
            total += count;
        }
        return received;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition());
    }

    /// <summary>Passes everything to the real TCP channel, counting reads and sends; can hold sends, or fail them.</summary>
    private sealed class CountingChannel(IMqttChannel real) : IMqttChannel
    {
        private readonly TaskCompletionSource _firstWrite = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _hold;
        private bool _fail;
        private int _writes;
        private int _reads;

        public int Writes => Volatile.Read(ref _writes);

        public int Reads => Volatile.Read(ref _reads);

        public bool Disposed { get; private set; }

        public Task FirstWriteStarted => _firstWrite.Task;

        public X509Certificate2 ClientCertificate => real.ClientCertificate;

        public EndPoint RemoteEndPoint => real.RemoteEndPoint;

        public EndPoint LocalEndPoint => real.LocalEndPoint;

        public bool IsSecureConnection => real.IsSecureConnection;

        public void HoldWrites() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReleaseWrites() => _hold?.TrySetResult();

        public void FailWrites() => _fail = true;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisconnectAsync(CancellationToken cancellationToken) => real.DisconnectAsync(cancellationToken);

        public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return real.ReadAsync(buffer, offset, count, cancellationToken);
        }

        public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _writes);
            _firstWrite.TrySetResult();
            if (_hold is { } hold)
            {
                await hold.Task;
            }
            if (_fail)
            {
                throw new IOException("connection reset (simulated)");
            }
            await real.WriteAsync(buffer, isEndOfPacket, cancellationToken);
        }

        public void Dispose()
        {
            Disposed = true;
            real.Dispose();
        }
    }
}
