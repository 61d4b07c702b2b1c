using System.Net;
using System.Net.Sockets;
using MQTTnet.Channel;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// The upstream socket's stream, which acknowledges at the TCP level every read at once (Linux: TCP_QUICKACK, re-armed
/// after each read because the kernel turns it off again by itself).
/// </summary>
/// <remarks>
/// A cloud broker with Nagle's algorithm on (mosquitto's default, and many others') sends the PUBACK of one output at
/// once but holds the next one until the first is acknowledged. The gateway sends nothing back on a PUBACK, so its
/// kernel delays that acknowledgement (40 ms on Linux): a device that waits for its PUBACK before publishing again,
/// with two or more outputs per message, was held about 43 ms per message. Acknowledging after each read lets the
/// broker's next PUBACK go out as soon as the gateway has read the previous one. Linux only: elsewhere reads are plain.
/// </remarks>
internal sealed class UpstreamSocketStream : NetworkStream, IMqttClientStreamEndPoints
{
    private const int IpProtocolTcp = 6;
    private const int TcpQuickAck = 12;
    private static readonly byte[] s_on = BitConverter.GetBytes(1);

    public UpstreamSocketStream(Socket socket)
        : base(socket, ownsSocket: true)
    {
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
    }

    public EndPoint? LocalEndPoint { get; }

    public EndPoint? RemoteEndPoint { get; }

    public override int Read(Span<byte> buffer) => AcknowledgeNow(base.Read(buffer));

    public override int Read(byte[] buffer, int offset, int count) => AcknowledgeNow(base.Read(buffer, offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = base.ReadAsync(buffer, cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<int>(AcknowledgeNow(read.Result)) : AwaitAndAcknowledgeAsync(read);
    }

    private async ValueTask<int> AwaitAndAcknowledgeAsync(ValueTask<int> read) => AcknowledgeNow(await read.ConfigureAwait(false));

    private int AcknowledgeNow(int read)
    {
        if (read > 0 && OperatingSystem.IsLinux())
        {
            try
            {
                // Sends the acknowledgement the kernel is holding back, and leaves its "interactive" mode, in which it
                // would wait to piggyback acknowledgements on data the gateway sends.
                Socket.SetRawSocketOption(IpProtocolTcp, TcpQuickAck, s_on);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The connection is closing; the next read reports it.
            }
        }
        return read;
    }
}
