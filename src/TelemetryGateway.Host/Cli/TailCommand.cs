using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>tail [--host H] [--port P] [--filter F] [--count N] [--timeout SECONDS]</c>: subscribes to the gateway's local
/// outputs (<c>filtered/#</c> by default) and prints each as one JSON line: topic, the tags (purpose, legal basis,
/// categories, policy, retention), stream and gateway, and the minimized payload (as text when it is UTF-8, else base64).
/// A <c>telemetry.v1.Envelope</c> is decoded; an output sent without one (<c>Gateway:Upstream:Envelope=none</c>) has
/// its tags in MQTT 5 user properties. A <c>telemetry.v1.EnvelopeBatch</c> (<c>Gateway:Upstream:Batch</c>, when tailing
/// a cloud broker) is printed as one line per element, with the element's own topic and the batch's topic as <c>batch</c>. Ends after <c>--count</c> outputs or <c>--timeout</c> seconds (exit 0; 1 when the
/// timeout passed before the count was reached), or on Ctrl+C.
/// </summary>
internal static class TailCommand
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        var host = "127.0.0.1";
        var port = 1883;
        var filter = "filtered/#";
        var count = 0;
        var timeout = TimeSpan.Zero;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--host" when i + 1 < args.Length:
                    host = args[++i];
                    break;
                case "--port" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536:
                    port = p;
                    i++;
                    break;
                case "--filter" when i + 1 < args.Length && args[i + 1].Length > 0:
                    filter = args[++i];
                    break;
                case "--count" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    count = n;
                    i++;
                    break;
                case "--timeout" when i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var s) && s > 0 && s < 1e6:
                    timeout = TimeSpan.FromSeconds(s);
                    i++;
                    break;
                default:
                    return Usage.Error(error, $"unexpected argument '{args[i]}'");
            }
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        if (timeout > TimeSpan.Zero)
        {
            stop.CancelAfter(timeout);
        }
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var client = new MqttClientFactory().CreateMqttClient();
        var printed = 0;
        var lines = System.Threading.Channels.Channel.CreateBounded<string>(1024);
        client.ApplicationMessageReceivedAsync += args =>
        {
            // The channel bounds what waits to be printed; a full one makes MQTTnet wait (QoS 1 back pressure).
            return WriteAllAsync(lines.Writer, FormatAll(args.ApplicationMessage), stop.Token);
        };
        try
        {
            var options = new MqttClientOptionsBuilder()
                .WithTcpServer(host, port)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                // A fresh id per run, without a session left behind.
                .WithClientId("tail-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)))
                .WithCleanStart(true)
                .WithTimeout(TimeSpan.FromSeconds(10))
                .Build();
            var connected = await client.ConnectAsync(options, stop.Token);
            if (connected.ResultCode != MqttClientConnectResultCode.Success)
            {
                error.WriteLine($"telemetry-gateway tail: the broker refused the connection ({connected.ResultCode})");
                return Usage.Failure;
            }
            var subscribed = await client.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), stop.Token);
            var granted = subscribed.Items.First().ResultCode;
            if (granted > MqttClientSubscribeResultCode.GrantedQoS2)
            {
                error.WriteLine($"telemetry-gateway tail: the subscription was refused ({granted})");
                return Usage.Failure;
            }
            error.WriteLine($"telemetry-gateway tail: subscribed to {filter} on {host}:{port}");
            while (count == 0 || printed < count)
            {
                var line = await lines.Reader.ReadAsync(stop.Token);
                output.WriteLine(line);
                printed++;
            }
            await output.FlushAsync(CancellationToken.None);
            return Usage.Success;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await output.FlushAsync(CancellationToken.None);
            // Ctrl+C or the timeout: a count not reached is a failure for scripts that asked for one.
            return count > 0 && printed < count && !cancel.IsCancellationRequested ? Usage.Failure : Usage.Success;
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException exception)
        {
            error.WriteLine($"telemetry-gateway tail: cannot connect to {host}:{port}: {exception.Message}");
            return Usage.Failure;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            if (client.IsConnected)
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
            }
        }
    }

    private static async Task WriteAllAsync(System.Threading.Channels.ChannelWriter<string> writer, IReadOnlyList<string> lines, CancellationToken cancel)
    {
        foreach (var line in lines)
        {
            await writer.WriteAsync(line, cancel);
        }
    }

    /// <summary>One JSON line per output: one for a single output, one per element of a <c>telemetry.v1.EnvelopeBatch</c>.</summary>
    internal static IReadOnlyList<string> FormatAll(MqttApplicationMessage message)
    {
        if (message.ContentType?.Contains("telemetry.v1.EnvelopeBatch", StringComparison.Ordinal) != true)
        {
            return [Format(message)];
        }
        EnvelopeBatch batch;
        try
        {
            batch = EnvelopeBatch.Parser.ParseFrom(message.Payload);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            return [Error(message.Topic, "not a valid telemetry.v1.EnvelopeBatch")];
        }
        return [.. batch.Envelopes.Select(envelope => Format(envelope.Topic, envelope, null, message.Topic))];
    }

    private static string Error(string topic, string error)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("topic", topic);
            json.WriteString("error", error);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>One output as a JSON line.</summary>
    internal static string Format(MqttApplicationMessage message)
    {
        Envelope? envelope = null;
        string? error = null;
        if (message.ContentType?.Contains("telemetry.v1.Envelope", StringComparison.Ordinal) == true)
        {
            try
            {
                envelope = Envelope.Parser.ParseFrom(message.Payload);
            }
            catch (Google.Protobuf.InvalidProtocolBufferException)
            {
                error = "not a valid telemetry.v1.Envelope";
            }
        }
        return envelope is null ? Format(message.Topic, null, message, null, error) : Format(message.Topic, envelope, message, null);
    }

    private static string Format(string topic, Envelope? envelope, MqttApplicationMessage? message, string? batchTopic, string? error = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("topic", topic);
            if (batchTopic is not null)
            {
                json.WriteString("batch", batchTopic);
            }
            if (error is not null)
            {
                json.WriteString("error", error);
            }
            var payload = message?.Payload.ToArray() ?? [];
            if (envelope is not null)
            {
                json.WriteString("purpose", envelope.Purpose);
                json.WriteString("legalBasis", envelope.LegalBasis);
                json.WriteStartArray("categories");
                foreach (var category in envelope.Categories)
                {
                    json.WriteStringValue(category);
                }
                json.WriteEndArray();
                json.WriteString("policy", envelope.Policy);
                json.WriteString("retention", envelope.Retention);
                json.WriteString("stream", envelope.Stream);
                json.WriteString("gatewayId", envelope.GatewayId);
                json.WriteString("receivedAt", envelope.ReceivedAt?.ToDateTimeOffset().ToString("O", CultureInfo.InvariantCulture));
                json.WriteString("contentType", envelope.ContentType);
                payload = envelope.Payload.ToByteArray();
            }
            else if (message is not null)
            {
                foreach (var property in message.UserProperties ?? [])
                {
                    var name = property.Name switch
                    {
                        "legal-basis" => "legalBasis",
                        _ => property.Name,
                    };
                    if (name == "categories")
                    {
                        json.WriteStartArray(name);
                        foreach (var category in Encoding.UTF8.GetString(property.ValueBuffer.Span).Split(',', StringSplitOptions.RemoveEmptyEntries))
                        {
                            json.WriteStringValue(category);
                        }
                        json.WriteEndArray();
                        continue;
                    }
                    json.WriteString(name, Encoding.UTF8.GetString(property.ValueBuffer.Span));
                }
                json.WriteString("contentType", message.ContentType);
            }
            try
            {
                json.WriteString("payloadText", s_strictUtf8.GetString(payload));
            }
            catch (DecoderFallbackException)
            {
                json.WriteBase64String("payloadBase64", payload);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
