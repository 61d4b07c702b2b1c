using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Mqtt.Tests.Aggregation;

/// <summary>An anonymous aggregate's own tags (anonymous, window, k, epsilon) in every form an output takes.</summary>
public sealed class AggregateTagsTests
{
    private static readonly string s_policyPath = Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");
    private static readonly DateTimeOffset s_start = new(2026, 12, 3, 15, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_envelope_and_the_user_properties_carry_the_aggregate_tags_and_no_personal_category()
    {
        var entry = Entry();
        var release = new AggregateRelease(entry, "agg/A17C0/status", "{}"u8.ToArray(), s_start, s_start.AddHours(1));
        var encoder = new UpstreamEncoder(
            new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "protobuf" }, "gateway-1", new RegionRouting("eea", ["eea"]), remote: true);
        var messages = new List<UpstreamMessage>();

        Assert.Equal(1, encoder.EncodeAggregate(release, messages));
        var message = Assert.Single(messages);

        Assert.Equal("telemetry/product-improvement/agg/A17C0/status", message.Topic);
        Assert.Equal("", message.Device);
        Assert.Equal(new AggregateTags("2026-12-03T15:00:00Z/PT1H", 10, "1"), message.Aggregate);
        var envelope = Envelope.Parser.ParseFrom(message.Payload);
        Assert.True(envelope.Anonymous);
        Assert.Equal("2026-12-03T15:00:00Z/PT1H", envelope.Window);
        Assert.Equal(10u, envelope.K);
        Assert.Equal("1", envelope.Epsilon);
        Assert.Equal(("eea", "none"), (envelope.DestinationRegion, envelope.TransferSafeguard));
        Assert.Empty(envelope.Categories);
        Assert.Equal("product-improvement", envelope.Purpose);
        var properties = message.ToApplicationMessage().UserProperties.ToDictionary(p => p.Name, p => System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span));
        Assert.Equal("true", properties["anonymous"]);
        Assert.Equal("2026-12-03T15:00:00Z/PT1H", properties["window"]);
        Assert.Equal("10", properties["k"]);
        Assert.Equal("1", properties["epsilon"]);
        Assert.Equal("", properties["categories"]);
        Assert.True(MqttUpstream.EstimatedPacketSize(message) >= message.Payload.Length + message.Topic.Length + "anonymous".Length);
    }

    [Fact]
    public void The_outbox_record_keeps_the_aggregate_tags_and_reads_records_without_them()
    {
        var aggregate = new UpstreamMessage("t/agg", [1, 2], "application/json", "product-improvement", "legitimate-interest", "", "p@1", "P5Y", 60,
            "status", "", new AggregateTags("2026-12-03T15:00:00Z/PT1H", 10, "none"));
        var plain = aggregate with { Aggregate = null, Device = "D1", Categories = "device" };

        var decoded = OutboxRecord.Decode(OutboxRecord.Encode(aggregate));
        Assert.Equal(aggregate with { Payload = decoded.Payload }, decoded);
        Assert.Equal(aggregate.Payload, decoded.Payload);
        var decodedPlain = OutboxRecord.Decode(OutboxRecord.Encode(plain));
        Assert.Equal(plain with { Payload = decodedPlain.Payload }, decodedPlain);

        // Versions 4 (before residency) and 3 (before aggregates): the same layout without the trailing region and
        // safeguard, and without the window too (each an empty u16-prefixed string here).
        var version5 = OutboxRecord.Encode(plain);
        var payloadAt = version5.Length - 4 - plain.Payload.Length;
        var version4 = version5[..(payloadAt - 4)].Concat(version5[payloadAt..]).ToArray();
        version4[0] = 4;
        var version3 = version5[..(payloadAt - 6)].Concat(version5[payloadAt..]).ToArray();
        version3[0] = 3;
        foreach (var older in new[] { version4, version3 })
        {
            var old = OutboxRecord.Decode(older);
            Assert.Equal(plain with { Payload = old.Payload }, old);
        }
    }

    private static StreamPurpose Entry() =>
        PolicyCompiler.CompileFile(s_policyPath).Streams.Single(s => s.Name == "status").Purposes.Single(p => p.Name == "product-improvement-aggregate");
}
