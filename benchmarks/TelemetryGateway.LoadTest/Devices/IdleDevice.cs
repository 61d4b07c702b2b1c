using System.Net;
using System.Net.Sockets;
using TelemetryGateway.LoadTest.Mqtt;

namespace TelemetryGateway.LoadTest.Devices;

/// <summary>
/// A connected device that publishes nothing: one MQTT 3.1.1 connection (keep-alive 0, so no pings), held open by a bare
/// socket with no receive loop or buffers of its own, so that ten thousand of them cost the benchmark little.
/// </summary>
internal sealed class IdleDevice : IAsyncDisposable
{
    private readonly Socket _socket;

    private IdleDevice(Socket socket) => _socket = socket;

    /// <summary>Connects, sends CONNECT and waits for a successful CONNACK, all within <paramref name="timeout"/>.</summary>
    public static async Task<IdleDevice> ConnectAsync(IPEndPoint endpoint, string clientId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, bound.Token);
            await socket.SendAsync(MinimalMqttClient.BuildConnect(clientId), SocketFlags.None, bound.Token);
            var connAck = new byte[4];
            for (var read = 0; read < connAck.Length;)
            {
                var n = await socket.ReceiveAsync(connAck.AsMemory(read), SocketFlags.None, bound.Token);
                if (n == 0)
                {
                    throw new MqttProtocolException($"{clientId}: {endpoint} closed the connection before CONNACK");
                }
                read += n;
            }
            if (connAck[0] != 0x20 || connAck[3] != 0)
            {
                throw new MqttProtocolException($"{clientId}: {endpoint} refused the connection (CONNACK {connAck[0]:X2} code {connAck[3]})");
            }
            return new IdleDevice(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Still connected: the peer has not closed it (no data is ever expected).</summary>
    public bool IsConnected => !(_socket.Poll(0, SelectMode.SelectRead) && _socket.Available == 0);

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
