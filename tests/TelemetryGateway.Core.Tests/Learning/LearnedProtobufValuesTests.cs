using System.Buffers;
using System.Text;
using Google.Protobuf;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Protobuf;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Learning;

/// <summary>
/// Protobuf messages teach the learned values by their string fields' names (a <c>WifiInfo</c>'s ssid and passphrase,
/// a BSSID), and every later protobuf output loses those values from its kept string fields, staying a valid message
/// of its type (every length around a scrubbed value written anew).
/// </summary>
public sealed class LearnedProtobufValuesTests
{
    private const string Ssid = "Maple Court 5G";
    private const string Passphrase = "tulip-Reed-93";
    private const string Bssid = "BE:31:20:1E:69:FE";

    private static NetworkInfo Network() => new()
    {
        Sn = ProtobufSamples.Serial,
        Wifi = new WifiInfo { Ssid = Ssid, Passphrase = Passphrase, Bssid = Bssid, Rssi = -61, Security = "WPA2-PSK" },
        Ip = "192.0.2.10",
    };

    // Lines no marker announces: the values alone, in another case, in a component name the policy keeps as it is.
    private static LogBatch Log() => new()
    {
        Sn = ProtobufSamples.Serial,
        Entries =
        {
            new LogEntry { Ts = 1, Level = "I", Component = "ui", Message = "banner MAPLE COURT 5G shown" },
            new LogEntry { Ts = 2, Level = "I", Component = "tulip-reed-93", Message = "soc=87% temp=31.5C" },
            new LogEntry { Ts = 3, Level = "I", Component = "net", Message = $"roamed to {Bssid.ToLowerInvariant()}" },
        },
    };

    [Theory]
    [InlineData(Segmentation.SingleSegment)]
    [InlineData(Segmentation.MultiSegment)]
    [InlineData(Segmentation.OneBytePerSegment)]
    public void A_protobuf_network_message_teaches_and_a_later_protobuf_log_loses_the_values_and_stays_valid(Segmentation segmentation)
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key, [], store);

        var network = minimizer.Minimize(ProtobufSamples.Topic("network"), Segments.Split(Network().ToByteArray(), segmentation));

        Assert.False(network.IsQuarantined);
        Assert.Equal(3, store.Count);
        var log = minimizer.Minimize(ProtobufSamples.Topic("log"), Segments.Split(Log().ToByteArray(), segmentation));
        Assert.False(log.IsQuarantined);
        var output = Assert.Single(log.Outputs.ToArray());
        var parsed = LogBatch.Parser.ParseFrom(output.Payload.Span);
        Assert.Equal("banner [ssid] shown", parsed.Entries[0].Message);
        Assert.Equal("[secret]", parsed.Entries[1].Component);
        Assert.Equal("soc=87% temp=31.5C", parsed.Entries[1].Message);
        Assert.Equal("roamed to [mac]", parsed.Entries[2].Message);
        Assert.Equal(3, parsed.Entries.Count);
        Assert.Equal([1L, 2L, 3L], parsed.Entries.Select(e => e.Ts));
    }

    [Fact]
    public void A_value_a_JSON_message_revealed_leaves_protobuf_outputs_of_another_policy_too()
    {
        var store = new LearnedSecrets();
        using var json = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        using var protobuf = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key, [], store);
        var message = $$$"""{"sn":"{{{ProtobufSamples.Serial}}}","wifi":{"ssid":"{{{Ssid}}}","password":"{{{Passphrase}}}"}}""";
        Assert.False(json.Minimize($"dt/anker_power/A17C0/{ProtobufSamples.Serial}/network", new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(message))).IsQuarantined);

        var log = protobuf.Minimize(ProtobufSamples.Topic("log"), new ReadOnlySequence<byte>(Log().ToByteArray()));

        var parsed = LogBatch.Parser.ParseFrom(Assert.Single(log.Outputs.ToArray()).Payload.Span);
        Assert.Equal("banner [ssid] shown", parsed.Entries[0].Message);
        Assert.Equal("[secret]", parsed.Entries[1].Component);
        Assert.DoesNotContain(Passphrase, Encoding.UTF8.GetString(Assert.Single(log.Outputs.ToArray()).Payload.Span), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_long_value_makes_a_nested_length_grow_past_one_byte_and_the_output_still_parses()
    {
        var store = new LearnedSecrets();
        var name = "Haus am See " + new string('x', 150);
        store.Learn(ProtobufSamples.Serial, LearnedClass.WifiName, Encoding.UTF8.GetBytes(name));
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key, [], store);
        var batch = new LogBatch { Sn = ProtobufSamples.Serial, Entries = { new LogEntry { Ts = 1, Level = "I", Component = name, Message = $"joined {name} ok" } } };

        var log = minimizer.Minimize(ProtobufSamples.Topic("log"), new ReadOnlySequence<byte>(batch.ToByteArray()));

        var parsed = LogBatch.Parser.ParseFrom(Assert.Single(log.Outputs.ToArray()).Payload.Span);
        Assert.Equal("[ssid]", parsed.Entries[0].Component);
        Assert.Equal("joined [ssid] ok", parsed.Entries[0].Message);
    }

    [Fact]
    public void Fields_a_stream_of_other_categories_names_like_secrets_are_not_learned()
    {
        // The log stream's categories are usage and device: its fields are not read for values by name.
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key, [], store);

        Assert.False(minimizer.Minimize(ProtobufSamples.Topic("log"), new ReadOnlySequence<byte>(Log().ToByteArray())).IsQuarantined);

        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Scrubbing_protobuf_outputs_allocates_nothing_in_steady_state()
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key, [], store);
        var network = new ReadOnlySequence<byte>(Network().ToByteArray());
        var log = new ReadOnlySequence<byte>(Log().ToByteArray());
        var status = new ReadOnlySequence<byte>(ProtobufSamples.Status().ToByteArray());
        string[] topics = [ProtobufSamples.Topic("network"), ProtobufSamples.Topic("log"), ProtobufSamples.Topic("status")];
        void MinimizeAll()
        {
            Assert.False(minimizer.Minimize(topics[0], network).IsQuarantined);
            Assert.False(minimizer.Minimize(topics[1], log).IsQuarantined);
            Assert.False(minimizer.Minimize(topics[2], status).IsQuarantined);
        }

        MinimizeAll();

        // The network message's Wi-Fi name, passphrase and BSSID, the status message's Wi-Fi name and MAC; the log loses some each time.
        Assert.Equal(5, store.Count);
        Assert.Equal(0, Allocations.SteadyState(MinimizeAll));
    }
}
