using System.Net;
using System.Net.Sockets;
using MQTTnet;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>The upstream socket the gateway opens itself: MQTTnet's socket options, and an acknowledgement at once after every read.</summary>
public sealed class UpstreamSocketStreamTests : IDisposable
{
    private const int IpProtocolTcp = 6;
    private const int TcpQuickAck = 12;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public UpstreamSocketStreamTests() => _listener.Start();

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Connects_with_the_socket_options_MQTTnet_would_set()
    {
        var options = new MqttClientTcpOptions { NoDelay = true, BufferSize = 16 * 1024 };
        var provider = new UpstreamSocketProvider(options, TimeSpan.FromSeconds(7));
        var accepting = _listener.AcceptSocketAsync();

        await using var stream = (UpstreamSocketStream)await provider.ConnectAsync(_listener.LocalEndpoint, CancellationToken.None).WaitAsync(Timeout);
        using var peer = await accepting.WaitAsync(Timeout);

        Assert.True(stream.Socket.NoDelay);
        Assert.Equal(7000, stream.Socket.SendTimeout);
        Assert.Equal(options.LingerState.Enabled, stream.Socket.LingerState!.Enabled);
        Assert.Equal(stream.Socket.RemoteEndPoint, stream.RemoteEndPoint);
    }

    [Fact]
    public async Task Every_read_leaves_the_socket_acknowledging_at_once()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // TCP_QUICKACK is Linux's.
        }
        var provider = new UpstreamSocketProvider(new MqttClientTcpOptions(), TimeSpan.FromSeconds(10));
        var accepting = _listener.AcceptSocketAsync();
        await using var stream = (UpstreamSocketStream)await provider.ConnectAsync(_listener.LocalEndpoint, CancellationToken.None).WaitAsync(Timeout);
        using var peer = await accepting.WaitAsync(Timeout);
        var buffer = new byte[16];

        foreach (var read in new Func<Task<int>>[]
        {
            () => stream.ReadAsync(buffer.AsMemory()).AsTask(),
            () => stream.ReadAsync(buffer, 0, buffer.Length),
            () => Task.FromResult(stream.Read(buffer.AsSpan())),
        })
        {
            // Delayed acknowledgements, as the kernel has them once the connection looks interactive.
            stream.Socket.SetRawSocketOption(IpProtocolTcp, TcpQuickAck, BitConverter.GetBytes(0));
            Assert.Equal(0, QuickAck(stream.Socket));
            await peer.SendAsync(new byte[] { 0x40, 0x02, 0x00, 0x01 });

            Assert.Equal(4, await read().WaitAsync(Timeout));
            Assert.Equal(1, QuickAck(stream.Socket));
        }
    }

    private static int QuickAck(Socket socket)
    {
        var value = new byte[4];
        socket.GetRawSocketOption(IpProtocolTcp, TcpQuickAck, value);
        return BitConverter.ToInt32(value);
    }
}
