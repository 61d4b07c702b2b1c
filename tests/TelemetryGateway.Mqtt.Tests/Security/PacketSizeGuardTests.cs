using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using TelemetryGateway.Mqtt.Security.Limits;

namespace TelemetryGateway.Mqtt.Tests.Security;

/// <summary>The guard parses MQTT fixed headers as bytes arrive; every case runs on one write, uneven writes, and one byte per write.</summary>
public sealed class PacketSizeGuardTests
{
    public enum Writes
    {
        OneWrite,
        Uneven,
        OneByte,
    }

    private const int Limit = 1000;

    /// <summary>A connection that only records being aborted (Kestrel's own would cancel a token on the thread pool).</summary>
    private sealed class RecordingConnection : ConnectionContext
    {
        public bool Aborted { get; private set; }
        public override string ConnectionId { get; set; } = "test";
        public override Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();
        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
        public override IDuplexPipe Transport { get; set; } = null!;

        public override void Abort(ConnectionAbortedException abortReason) => Aborted = true;
    }

    /// <summary>A packet of type PUBLISH with <paramref name="bodyLength"/> body bytes (remaining length as a variable-length integer).</summary>
    private static byte[] Packet(int bodyLength)
    {
        var header = new List<byte> { 0x30 };
        var value = bodyLength;
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            header.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
        return [.. header, .. new byte[bodyLength]];
    }

    /// <summary>Writes <paramref name="bytes"/> into a pipe as told and reads it through the guard like MQTTnet does: whole packets consumed, the rest examined.</summary>
    private static async Task<(int Packets, bool Aborted)> ReadThroughGuardAsync(byte[] bytes, Writes writes)
    {
        var pipe = new Pipe();
        var aborted = false;
        await using var connection = new RecordingConnection();
        var guard = new PacketSizeGuard(pipe.Reader, Limit, connection, (_, _) =>
        {
            aborted = true;
            return Task.CompletedTask;
        });
        var sizes = writes switch { Writes.OneWrite => [bytes.Length], Writes.Uneven => new[] { 7, 3, 13, 1, 29, 5 }, _ => [1] };
        var writing = Task.Run(async () =>
        {
            var offset = 0;
            for (var i = 0; offset < bytes.Length; i++)
            {
                var size = Math.Min(sizes[i % sizes.Length], bytes.Length - offset);
                await pipe.Writer.WriteAsync(bytes.AsMemory(offset, size));
                offset += size;
            }
            await pipe.Writer.CompleteAsync();
        });
        var packets = 0;
        try
        {
            while (true)
            {
                var result = await guard.ReadAsync();
                var buffer = result.Buffer;
                while (TryTakePacket(ref buffer))
                {
                    packets++;
                }
                guard.AdvanceTo(buffer.Start, result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (ConnectionAbortedException)
        {
            await pipe.Reader.CompleteAsync();
        }
        await writing;
        return (packets, aborted);
    }

    private static bool TryTakePacket(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out _))
        {
            return false;
        }
        long length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }
            length |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }
        if (reader.Remaining < length)
        {
            return false;
        }
        buffer = buffer.Slice(reader.Consumed + length);
        return true;
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Packets_within_the_limit_pass(Writes writes)
    {
        byte[] bytes = [.. Packet(0), .. Packet(127), .. Packet(128), .. Packet(Limit), .. Packet(5)];

        var (packets, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.Equal(5, packets);
        Assert.False(aborted);
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Packet_announcing_more_than_the_limit_aborts_the_connection_before_its_body(Writes writes)
    {
        // Only the header of the large packet is sent: the guard must not wait for its body.
        byte[] bytes = [.. Packet(10), .. Packet(Limit + 1).AsSpan(0, 3)];

        var (_, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.True(aborted);
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Remaining_length_of_more_than_four_bytes_aborts_the_connection(Writes writes)
    {
        byte[] bytes = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

        var (_, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.True(aborted);
    }

    /// <summary>A CONNECT of protocol level <paramref name="level"/> (4: MQTT 3.1.1, 5: MQTT 5) with client id "c".</summary>
    private static byte[] Connect(byte level)
    {
        List<byte> body = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', level, 0x02, 0, 60];
        if (level == 5)
        {
            body.Add(0); // no properties
        }
        body.AddRange([0, 1, (byte)'c']);
        return [0x10, (byte)body.Count, .. body];
    }

    /// <summary>A QoS 1 MQTT 5 PUBLISH to "a/b" with a user property and then the Topic Alias property (when given).</summary>
    private static byte[] Publish5(ushort? alias)
    {
        List<byte> properties = [0x26, 0, 1, (byte)'k', 0, 1, (byte)'v'];
        if (alias is { } value)
        {
            properties.AddRange([0x23, (byte)(value >> 8), (byte)value]);
        }
        List<byte> body = [0, 3, (byte)'a', (byte)'/', (byte)'b', 0, 7, (byte)properties.Count, .. properties, (byte)'{', (byte)'}'];
        return [0x32, (byte)body.Count, .. body];
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Topic_alias_0_on_an_mqtt5_connection_aborts_it(Writes writes)
    {
        byte[] bytes = [.. Connect(5), .. Publish5(1), .. Publish5(null), .. Publish5(0)];

        var (packets, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.True(aborted);
        Assert.True(packets <= 3, $"{packets} packets read past the alias 0");
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Mqtt5_publishes_with_valid_topic_aliases_pass(Writes writes)
    {
        byte[] bytes = [.. Connect(5), .. Publish5(1), .. Publish5(null), .. Publish5(65535)];

        var (packets, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.False(aborted);
        Assert.Equal(4, packets);
    }

    /// <summary>
    /// Reads like <see cref="ReadThroughGuardAsync"/> with a guard that assigns "assigned-7" to MQTT 3.1.1 CONNECTs
    /// without an id; returns each packet as read and the user names the assignment was asked for.
    /// </summary>
    private static async Task<(List<byte[]> Packets, List<string?> Asked)> PacketsThroughGuardAsync(byte[] bytes, Writes writes)
    {
        var pipe = new Pipe();
        await using var connection = new RecordingConnection();
        var asked = new List<string?>();
        var guard = new PacketSizeGuard(pipe.Reader, Limit, connection, (_, _) => Task.CompletedTask, user =>
        {
            asked.Add(user);
            return "assigned-7";
        });
        var sizes = writes switch { Writes.OneWrite => [bytes.Length], Writes.Uneven => new[] { 7, 3, 13, 1, 29, 5 }, _ => [1] };
        var writing = Task.Run(async () =>
        {
            var offset = 0;
            for (var i = 0; offset < bytes.Length; i++)
            {
                var size = Math.Min(sizes[i % sizes.Length], bytes.Length - offset);
                await pipe.Writer.WriteAsync(bytes.AsMemory(offset, size));
                offset += size;
            }
            await pipe.Writer.CompleteAsync();
        });
        var packets = new List<byte[]>();
        while (true)
        {
            var result = await guard.ReadAsync();
            var buffer = result.Buffer;
            var before = buffer;
            while (TryTakePacket(ref buffer))
            {
                packets.Add(before.Slice(0, buffer.Start).ToArray());
                before = buffer;
            }
            guard.AdvanceTo(buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        await writing;
        return (packets, asked);
    }

    /// <summary>An MQTT 3.1.1 CONNECT: clean session or not, a client id, a will (topic "w", message "x") and a user name when given.</summary>
    private static byte[] Connect311(bool cleanSession, string clientId, string? user = null, bool will = false)
    {
        var flags = (byte)((cleanSession ? 0x02 : 0) | (will ? 0x04 : 0) | (user is null ? 0 : 0xC0));
        List<byte> body = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, flags, 0, 60];
        void Text(string text)
        {
            body.AddRange([(byte)(text.Length >> 8), (byte)text.Length, .. System.Text.Encoding.UTF8.GetBytes(text)]);
        }
        Text(clientId);
        if (will)
        {
            Text("w");
            Text("x");
        }
        if (user is not null)
        {
            Text(user);
            Text("secret");
        }
        return [0x10, (byte)body.Count, .. body];
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Mqtt311_connect_without_a_client_id_and_with_clean_session_is_handed_on_with_an_assigned_one(Writes writes)
    {
        byte[] bytes = [.. Connect311(cleanSession: true, "", "dev1", will: true), .. Packet(3), .. Packet(200)];

        var (packets, asked) = await PacketsThroughGuardAsync(bytes, writes);

        Assert.Equal(3, packets.Count);
        Assert.Equal(Connect311(cleanSession: true, "assigned-7", "dev1", will: true), packets[0]);
        Assert.Equal(Packet(3), packets[1]);
        Assert.Equal(Packet(200), packets[2]);
        Assert.Equal(["dev1"], asked);
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Mqtt311_connect_without_a_client_id_nor_clean_session_is_marked_for_refusal_without_asking_for_an_id(Writes writes)
    {
        // MQTTnet's decoder would throw on it and drop the connection; the site broker answers the reserved id 0x02.
        byte[] bytes = [.. Connect311(cleanSession: false, "", "dev1"), .. Packet(3)];

        var (packets, asked) = await PacketsThroughGuardAsync(bytes, writes);

        Assert.Equal(Connect311(cleanSession: false, PacketSizeGuard.EmptyClientIdWithoutCleanSession, "dev1"), packets[0]);
        Assert.Equal(Packet(3), packets[1]);
        Assert.Empty(asked);
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.OneByte)]
    public async Task Mqtt311_connect_without_a_user_name_asks_for_an_id_without_one(Writes writes)
    {
        var (packets, asked) = await PacketsThroughGuardAsync(Connect311(cleanSession: true, ""), writes);

        Assert.Equal(Connect311(cleanSession: true, "assigned-7"), Assert.Single(packets));
        Assert.Equal([null], asked);
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.Uneven)]
    [InlineData(Writes.OneByte)]
    public async Task Connects_that_keep_their_client_id_pass_untouched(Writes writes)
    {
        // An id of its own, MQTT 5.
        byte[] own = [.. Connect311(cleanSession: true, "c"), .. Packet(3)];
        byte[] mqtt5 = [.. Connect(5), .. Packet(3)];

        foreach (var input in new[] { own, mqtt5 })
        {
            var (packets, asked) = await PacketsThroughGuardAsync(input, writes);

            Assert.Equal(input, packets.SelectMany(p => p));
            Assert.Empty(asked);
        }
    }

    [Theory]
    [InlineData(Writes.OneWrite)]
    [InlineData(Writes.OneByte)]
    public async Task Mqtt311_connection_is_not_read_for_properties(Writes writes)
    {
        // The same bytes mean something else in MQTT 3.1.1 (no properties): they must pass untouched.
        byte[] bytes = [.. Connect(4), .. Publish5(0)];

        var (packets, aborted) = await ReadThroughGuardAsync(bytes, writes);

        Assert.False(aborted);
        Assert.Equal(2, packets);
    }
}
