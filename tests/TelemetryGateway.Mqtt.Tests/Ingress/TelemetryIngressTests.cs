using System.Collections;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Ingress;

/// <summary>The ingress hook without a broker: what it forwards, records, stores, dead-letters, and tells the device.</summary>
public sealed class TelemetryIngressTests : IDisposable
{
    private const string FirmwareTopic = "dt/anker_power/A17C0/SERIALCANARY0001/firmware";
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-ingress-").FullName;
    private readonly RecordingLogger<TelemetryIngress> _logger = new();
    private readonly QuarantineLog _quarantine;
    private readonly MinimizerPool _minimizers = new(ShippedPolicy.Policy, ShippedPolicy.Key, [new ConsentGate(NoConsentRecorded.Instance)]);
    private SqliteOutbox _outbox;

    public TelemetryIngressTests()
    {
        _outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
        _quarantine = new QuarantineLog(_directory, ShippedPolicy.Key, NullLogger.Instance, TimeProvider.System);
    }

    [Fact]
    public async Task A_publish_on_a_topic_no_stream_names_is_counted_and_not_delivered()
    {
        var upstream = await ConnectedAsync(ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);

        await ingress.OnPublishAsync(Publish("site/other/topic", "{}"));

        Assert.Equal(1, ingress.Unmatched);
        Assert.Empty(upstream.Published);
    }

    [Fact]
    public async Task A_malformed_payload_is_quarantined_and_nothing_of_it_is_delivered()
    {
        var upstream = await ConnectedAsync(ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);

        await ingress.OnPublishAsync(Publish(FirmwareTopic, "{\"sn\":\"SERIALCANARY0001\""));

        Assert.Equal(1, _quarantine.Count);
        Assert.Empty(upstream.Published);
        Assert.Equal(0, _outbox.Count);
    }

    [Fact]
    public async Task A_QoS_1_publish_returns_after_every_output_is_acknowledged_upstream()
    {
        var upstream = await ConnectedAsync(ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);

        var args = Publish(FirmwareTopic, """{"sn":"SERIALCANARY0001","sw_version":"v1"}""");
        await ingress.OnPublishAsync(args);

        Assert.Equal(3, upstream.Acknowledged.Count);
        Assert.All(upstream.Acknowledged, topic => Assert.StartsWith("telemetry/", topic, StringComparison.Ordinal));
        Assert.Equal(0, _outbox.Count);
        Assert.Equal(MqttPubAckReasonCode.Success, args.Response.ReasonCode);
    }

    [Fact]
    public async Task With_the_upstream_down_the_outputs_are_stored_before_the_publish_returns()
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);

        await ingress.OnPublishAsync(Publish(FirmwareTopic, """{"sn":"SERIALCANARY0001","sw_version":"v1"}"""));

        Assert.Equal(3, _outbox.Count);
        Assert.All(_outbox.ReadAfter(0, 10), stored => Assert.Equal("firmware", stored.Message.Stream));
    }

    [Fact]
    public async Task An_output_the_upstream_rejects_is_a_dead_letter_and_the_device_is_acknowledged()
    {
        var upstream = new ScriptedUpstream((message, _) => message.Purpose == "safety-recall" ? ScriptedAnswer.Reject : ScriptedAnswer.Acknowledge);
        await upstream.ConnectAsync(CancellationToken.None);
        using var ingress = Ingress(upstream);

        var args = Publish(FirmwareTopic, """{"sn":"SERIALCANARY0001","sw_version":"v1"}""");
        await ingress.OnPublishAsync(args);

        Assert.Equal(MqttPubAckReasonCode.Success, args.Response.ReasonCode);
        Assert.Equal(2, upstream.Acknowledged.Count);
        Assert.Equal(0, _outbox.Count);
        var deadLetter = Assert.Single(DeadLetterArchive.List(_directory));
        Assert.Equal(("not-authorized", "firmware", "safety-recall"), (deadLetter.Reason, deadLetter.Stream, deadLetter.Purpose));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task When_the_outbox_cannot_store_the_device_is_not_acknowledged(MqttProtocolVersion version)
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);
        ingress.ClientProtocols["device-1"] = version;
        await _outbox.DisposeAsync();

        var args = Publish(FirmwareTopic, """{"sn":"SERIALCANARY0001","sw_version":"v1"}""");
        await ingress.OnPublishAsync(args);

        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttPubAckReasonCode.ImplementationSpecificError, args.Response.ReasonCode);
            Assert.False(args.CloseConnection);
        }
        else
        {
            Assert.True(args.CloseConnection);
        }
        Assert.Equal(1, _logger.Count(EventIds.PublishNotStored));
        _outbox = SqliteOutbox.Open(_directory, new OutboxOptions(), NullLogger.Instance);
    }

    [Fact]
    public async Task The_gateway_s_own_publishes_are_never_minimized_again()
    {
        var upstream = await ConnectedAsync(ScriptedAnswer.Acknowledge);
        using var ingress = Ingress(upstream);

        await ingress.OnPublishAsync(Publish(FirmwareTopic, """{"sn":"SERIALCANARY0001"}""", SiteBrokerUpstream.SenderClientId));

        Assert.Empty(upstream.Published);
        Assert.Equal(0, ingress.Unmatched);
    }

    private TelemetryIngress Ingress(IUpstream upstream)
    {
        var options = new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "none" };
        var destinations = new Destinations("eea", [new Destination(
            new UpstreamRoute("upstream", "eea", options),
            upstream,
            new UpstreamDelivery(upstream, _outbox, NullLogger<UpstreamDelivery>.Instance, "eea"),
            new OutboxDrainer(_outbox, upstream, NullLogger.Instance, destination: "eea"))]);
        return new(_minimizers, new UpstreamEncoder(options, "gateway-1", destinations.Routing, remote: true), destinations, _quarantine, _logger, TimeProvider.System);
    }

    private static async Task<ScriptedUpstream> ConnectedAsync(ScriptedAnswer answer)
    {
        var upstream = new ScriptedUpstream((_, _) => answer);
        await upstream.ConnectAsync(CancellationToken.None);
        return upstream;
    }

    private static InterceptingPublishEventArgs Publish(string topic, string payload, string clientId = "device-1")
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        return new InterceptingPublishEventArgs(message, clientId, "user", new Hashtable(), CancellationToken.None);
    }

    public void Dispose()
    {
        _outbox.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _quarantine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _minimizers.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
