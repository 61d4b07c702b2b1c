using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>Records of processing for protobuf streams: what each purpose's rewrite did, as counts.</summary>
public sealed class ProtobufCountsTests
{
    [Fact]
    public void Counts_drops_pseudonyms_and_coarsening_per_purpose()
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.NetworkInfo",
            """{ "sn": "pseudonymize", "ip": "truncate-ip", "geo": "generalize-geo", "wifi": { "fields": { "rssi": "keep", "ssid": "drop" } } }""");
        var network = ProtobufSamples.Network();
        using (var minimizer = new Minimizer(policy, TestPolicies.Key))
        {
            var result = minimizer.Minimize("t/SN1", new System.Buffers.ReadOnlySequence<byte>(network.ToByteArray()));
            Assert.False(result.IsQuarantined);
        }

        var counters = policy.Streams[0].Purposes[0].Counters;
        Assert.Equal(1, counters[ProcessingAction.Forwarded]);
        Assert.Equal(1, counters[ProcessingAction.Hashed]);
        // ip truncated, geography generalized.
        Assert.Equal(2, counters[ProcessingAction.Coarsened]);
        // gateway_ip (not named); wifi's ssid (drop rule), passphrase, bssid, security (not named); geography's city,
        // latitude, longitude, postal and source.
        Assert.Equal(10, counters[ProcessingAction.Dropped]);
    }

    [Fact]
    public void Quarantined_message_counts_nothing()
    {
        var policy = ProtobufSamples.WithFields("telemetry.v1.DeviceStatus", """{ "sn": "keep" }""");
        using (var minimizer = new Minimizer(policy, TestPolicies.Key))
        {
            var result = minimizer.Minimize("t/SN1", new System.Buffers.ReadOnlySequence<byte>([0x0A, 0x01, 0x41, 0x18]));
            Assert.Equal(QuarantineReason.MalformedProtobuf, result.QuarantineReason);
        }

        var counters = policy.Streams[0].Purposes[0].Counters;
        Assert.Equal(0, counters[ProcessingAction.Forwarded]);
        Assert.Equal(0, counters[ProcessingAction.Dropped]);
    }

    [Fact]
    public void Outputs_carry_the_protobuf_content_type()
    {
        Assert.Equal("application/x-protobuf", PayloadFormat.Protobuf.ContentType());
        Assert.Equal(PayloadFormat.Protobuf, ProtobufSamples.Policy.Streams[0].Format);
    }
}
