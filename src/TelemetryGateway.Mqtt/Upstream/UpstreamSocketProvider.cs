using System.Net;
using System.Net.Sockets;
using MQTTnet;
using MQTTnet.Channel;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Opens the upstream's TCP connection for MQTTnet's channel (which adds TLS on top when configured), with the socket
/// options MQTTnet would set, so that the gateway owns the socket and can acknowledge what it reads at once
/// (<see cref="UpstreamSocketStream"/>).
/// </summary>
internal sealed class UpstreamSocketProvider : IMqttClientStreamProvider
{
    private readonly MqttClientTcpOptions _options;
    private readonly TimeSpan _sendTimeout;

    public UpstreamSocketProvider(MqttClientTcpOptions options, TimeSpan sendTimeout)
    {
        _options = options;
        _sendTimeout = sendTimeout;
    }

    public async Task<Stream> ConnectAsync(EndPoint remoteEndPoint, CancellationToken cancellationToken)
    {
        var socket = _options.AddressFamily == AddressFamily.Unspecified
            ? new Socket(SocketType.Stream, _options.ProtocolType)
            : new Socket(_options.AddressFamily, SocketType.Stream, _options.ProtocolType);
        try
        {
            if (_options.LocalEndpoint is { } local)
            {
                socket.Bind(local);
            }
            socket.ReceiveBufferSize = _options.BufferSize;
            socket.SendBufferSize = _options.BufferSize;
            socket.SendTimeout = (int)_sendTimeout.TotalMilliseconds;
            socket.NoDelay = _options.NoDelay;
            socket.LingerState = _options.LingerState;
            if (_options.DualMode is { } dualMode)
            {
                socket.DualMode = dualMode;
            }
            await socket.ConnectAsync(remoteEndPoint, cancellationToken).ConfigureAwait(false);
            return new UpstreamSocketStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
