using System.Text.Json;
using Google.Protobuf;
using MQTTnet;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Host.Tests.Cli;

/// <summary>What <c>tail</c> prints for a single envelope and for an <c>EnvelopeBatch</c>: one JSON line per output.</summary>
public sealed class TailFormatTests
{
    [Fact]
    public void A_batch_is_printed_as_one_line_per_element_with_its_own_topic_and_tags()
    {
        var batch = new EnvelopeBatch();
        batch.Envelopes.Add(Envelope("telemetry/after-sales-service/dt/anker_power/A17C0/p1/status", "status", """{"soc":1}"""));
        batch.Envelopes.Add(Envelope("telemetry/after-sales-service/dt/anker_power/A17C0/p2/firmware", "firmware", """{"v":"2"}"""));
        var message = new MqttApplicationMessageBuilder()
            .WithTopic("telemetry/after-sales-service/batch")
            .WithPayload(batch.ToByteArray())
            .WithContentType("application/x-protobuf; proto=telemetry.v1.EnvelopeBatch")
            .Build();

        var lines = TailCommand.FormatAll(message).Select(l => JsonDocument.Parse(l).RootElement).ToList();

        Assert.Equal(2, lines.Count);
        Assert.Equal(["telemetry/after-sales-service/dt/anker_power/A17C0/p1/status", "telemetry/after-sales-service/dt/anker_power/A17C0/p2/firmware"],
            lines.Select(l => l.GetProperty("topic").GetString()));
        Assert.All(lines, l => Assert.Equal("telemetry/after-sales-service/batch", l.GetProperty("batch").GetString()));
        Assert.Equal(["status", "firmware"], lines.Select(l => l.GetProperty("stream").GetString()));
        Assert.Equal(["""{"soc":1}""", """{"v":"2"}"""], lines.Select(l => l.GetProperty("payloadText").GetString()));
        Assert.All(lines, l => Assert.Equal("contract", l.GetProperty("legalBasis").GetString()));
    }

    [Fact]
    public void A_single_envelope_is_one_line_and_a_broken_batch_one_error_line()
    {
        var single = new MqttApplicationMessageBuilder()
            .WithTopic("telemetry/after-sales-service/dt/anker_power/A17C0/p1/status")
            .WithPayload(Envelope("", "status", "{}").ToByteArray())
            .WithContentType("application/x-protobuf; proto=telemetry.v1.Envelope")
            .Build();
        var line = JsonDocument.Parse(Assert.Single(TailCommand.FormatAll(single))).RootElement;
        Assert.Equal("telemetry/after-sales-service/dt/anker_power/A17C0/p1/status", line.GetProperty("topic").GetString());
        Assert.False(line.TryGetProperty("batch", out _));

        var broken = new MqttApplicationMessageBuilder()
            .WithTopic("telemetry/after-sales-service/batch")
            .WithPayload(new byte[] { 0x0a, 0x7f, 0x01 })
            .WithContentType("application/x-protobuf; proto=telemetry.v1.EnvelopeBatch")
            .Build();
        var error = JsonDocument.Parse(Assert.Single(TailCommand.FormatAll(broken))).RootElement;
        Assert.Equal("not a valid telemetry.v1.EnvelopeBatch", error.GetProperty("error").GetString());
    }

    private static Envelope Envelope(string topic, string stream, string payload)
    {
        var envelope = new Envelope
        {
            Topic = topic,
            Purpose = "after-sales-service",
            LegalBasis = "contract",
            Policy = "solix-default@1",
            Retention = "P2Y",
            ContentType = "application/json",
            Payload = ByteString.CopyFromUtf8(payload),
            GatewayId = "gw",
            Stream = stream,
        };
        envelope.Categories.Add("device");
        return envelope;
    }
}
