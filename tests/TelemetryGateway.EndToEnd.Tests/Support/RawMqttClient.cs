using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>What the server said in CONNACK (MQTT 5): the reason code and the properties the tests look at.</summary>
internal sealed record ConnAck(byte ReasonCode, ushort TopicAliasMaximum, uint? SessionExpiryInterval, bool SessionPresent);

/// <summary>
/// A hand-written MQTT 5 client for probes a well-behaved client library will not send: topics with a NUL or invalid
/// UTF-8, topic alias 0 or above the server's maximum, SUBSCRIBE packets with many filters, CONNECT from another
/// loopback address (127.0.0.2). Every read is bounded by a timeout; traffic goes to 127.0.0.1 only.
/// </summary>
internal sealed class RawMqttClient : IAsyncDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private ushort _packetId;

    private RawMqttClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The reason code of the server's DISCONNECT, when it sent one before closing.</summary>
    public byte? DisconnectReason { get; private set; }

    /// <summary>Opens a TCP connection (from <paramref name="localAddress"/> when given) and sends CONNECT; null CONNACK when the server closed instead.</summary>
    public static async Task<(RawMqttClient Client, ConnAck? ConnAck)> ConnectAsync(
        int port, string clientId, string? user = null, string? password = null, uint sessionExpiry = 0, ushort keepAlive = 60,
        IPAddress? localAddress = null, bool cleanStart = true)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork);
        if (localAddress is not null)
        {
            tcp.Client.Bind(new IPEndPoint(localAddress, 0));
        }
        tcp.NoDelay = true;
        using (var connectTimeout = new CancellationTokenSource(s_timeout))
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port, connectTimeout.Token);
        }
        var client = new RawMqttClient(tcp);
        var body = new List<byte>();
        WriteString(body, "MQTT"u8);
        body.Add(5);
        var flags = (byte)((cleanStart ? 0x02 : 0) | (user is null ? 0 : 0x80) | (password is null ? 0 : 0x40));
        body.Add(flags);
        body.Add((byte)(keepAlive >> 8));
        body.Add((byte)keepAlive);
        var properties = new List<byte>();
        if (sessionExpiry != 0)
        {
            properties.Add(0x11);
            AddUInt32(properties, sessionExpiry);
        }
        WriteVarInt(body, properties.Count);
        body.AddRange(properties);
        WriteString(body, Encoding.UTF8.GetBytes(clientId));
        if (user is not null)
        {
            WriteString(body, Encoding.UTF8.GetBytes(user));
        }
        if (password is not null)
        {
            WriteString(body, Encoding.UTF8.GetBytes(password));
        }
        await client.SendAsync(0x10, body);
        var packet = await client.ReadPacketAsync();
        if (packet is not { Type: 0x20 } connAck)
        {
            return (client, null);
        }
        return (client, ParseConnAck(connAck.Body));
    }

    /// <summary>QoS 1 PUBLISH; returns the PUBACK reason code, or null when the server closed the connection instead.</summary>
    public async Task<byte?> PublishAsync(byte[] topic, byte[] payload, ushort? topicAlias = null)
    {
        var id = NextPacketId();
        var body = new List<byte>();
        WriteString(body, topic);
        body.Add((byte)(id >> 8));
        body.Add((byte)id);
        var properties = new List<byte>();
        if (topicAlias is { } alias)
        {
            properties.Add(0x23);
            properties.Add((byte)(alias >> 8));
            properties.Add((byte)alias);
        }
        WriteVarInt(body, properties.Count);
        body.AddRange(properties);
        body.AddRange(payload);
        if (!await TrySendAsync(0x32, body))
        {
            return null;
        }
        while (await ReadPacketAsync() is { } packet)
        {
            if (packet.Type == 0x40 && packet.Body.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(packet.Body) == id)
            {
                return packet.Body.Length > 2 ? packet.Body[2] : (byte)0;
            }
        }
        return null;
    }

    public Task<byte?> PublishAsync(string topic, string payload, ushort? topicAlias = null) =>
        PublishAsync(Encoding.UTF8.GetBytes(topic), Encoding.UTF8.GetBytes(payload), topicAlias);

    /// <summary>One SUBSCRIBE with every filter (QoS 1); returns the SUBACK's reason codes, or null when the connection closed.</summary>
    public async Task<byte[]?> SubscribeAsync(params string[] filters)
    {
        var id = NextPacketId();
        var body = new List<byte> { (byte)(id >> 8), (byte)id, 0 };
        foreach (var filter in filters)
        {
            WriteString(body, Encoding.UTF8.GetBytes(filter));
            body.Add(0x01);
        }
        if (!await TrySendAsync(0x82, body))
        {
            return null;
        }
        while (await ReadPacketAsync() is { } packet)
        {
            if (packet.Type == 0x90 && BinaryPrimitives.ReadUInt16BigEndian(packet.Body) == id)
            {
                var propertiesLength = ReadVarInt(packet.Body, 2, out var used);
                return packet.Body[(2 + used + propertiesLength)..];
            }
        }
        return null;
    }

    /// <summary>True once the server has closed the connection (reads until end of stream, bounded by the timeout).</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        try
        {
            while (await ReadPacketAsync() is not null)
            {
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private ushort NextPacketId() => _packetId = (ushort)(_packetId % 65535 + 1);

    private async Task<bool> TrySendAsync(byte header, List<byte> body)
    {
        try
        {
            await SendAsync(header, body);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task SendAsync(byte header, List<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { header };
        WriteVarInt(packet, body.Count);
        packet.AddRange(body);
        using var timeout = new CancellationTokenSource(s_timeout);
        await _stream.WriteAsync(packet.ToArray(), timeout.Token);
    }

    /// <summary>The next packet, or null at end of stream (a DISCONNECT is recorded, then the end awaited).</summary>
    private async Task<(byte Type, byte[] Body)?> ReadPacketAsync()
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        while (true)
        {
            var first = await ReadExactlyAsync(1, timeout.Token);
            if (first is null)
            {
                return null;
            }
            var length = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = await ReadExactlyAsync(1, timeout.Token);
                if (b is null)
                {
                    return null;
                }
                length |= (b[0] & 0x7F) << shift;
                if ((b[0] & 0x80) == 0)
                {
                    break;
                }
            }
            var body = length == 0 ? [] : await ReadExactlyAsync(length, timeout.Token);
            if (body is null)
            {
                return null;
            }
            var type = (byte)(first[0] & 0xF0);
            if (type == 0xE0)
            {
                DisconnectReason = body.Length > 0 ? body[0] : (byte)0;
                continue;
            }
            return (type, body);
        }
    }

    private async Task<byte[]?> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        try
        {
            var read = 0;
            while (read < count)
            {
                var n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
                if (n == 0)
                {
                    return null;
                }
                read += n;
            }
            return buffer;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static ConnAck ParseConnAck(byte[] body)
    {
        var sessionPresent = (body[0] & 1) == 1;
        var reason = body[1];
        ushort aliasMaximum = 0;
        uint? expiry = null;
        if (body.Length > 2)
        {
            var length = ReadVarInt(body, 2, out var used);
            var position = 2 + used;
            var end = position + length;
            while (position < end)
            {
                var id = body[position++];
                switch (id)
                {
                    case 0x11:
                        expiry = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(position));
                        position += 4;
                        break;
                    case 0x22:
                        aliasMaximum = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
                        position += 2;
                        break;
                    case 0x21 or 0x13:
                        position += 2;
                        break;
                    case 0x27:
                        position += 4;
                        break;
                    case 0x24 or 0x25 or 0x28 or 0x29 or 0x2A:
                        position += 1;
                        break;
                    case 0x26:
                        position += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
                        position += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
                        break;
                    default:
                        // Strings and binary data: assigned client id, reason string, response information, ...
                        position += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(position));
                        break;
                }
            }
        }
        return new ConnAck(reason, aliasMaximum, expiry, sessionPresent);
    }

    private static int ReadVarInt(byte[] buffer, int offset, out int used)
    {
        var value = 0;
        used = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = buffer[offset + used++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private static void WriteVarInt(List<byte> buffer, int value)
    {
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            buffer.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
    }

    private static void WriteString(List<byte> buffer, ReadOnlySpan<byte> value)
    {
        buffer.Add((byte)(value.Length >> 8));
        buffer.Add((byte)value.Length);
        buffer.AddRange(value);
    }

    private static void AddUInt32(List<byte> buffer, uint value)
    {
        buffer.Add((byte)(value >> 24));
        buffer.Add((byte)(value >> 16));
        buffer.Add((byte)(value >> 8));
        buffer.Add((byte)value);
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
