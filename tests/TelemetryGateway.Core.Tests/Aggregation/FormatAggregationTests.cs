using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Tests.Solix;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Core.Tests.Aggregation;

/// <summary>
/// Aggregates of protobuf and SOLIX streams (issue 18): the same windows, groups, k and gates as JSON, the fields read
/// through each format's reader, once per message for every aggregate entry of the stream.
/// </summary>
public sealed class FormatAggregationTests
{
    // Protobuf: the product code is a payload field here (no {pn} capture), so the group is read from the message.
    internal const string ProtobufPolicy = """
        {
          "id": "agg-pb", "version": "1",
          "streams": {
            "status": {
              "topic": "dt/anker_power/pb/{sn}/status", "format": "protobuf", "message": "telemetry.v1.DeviceStatus",
              "categories": ["device", "usage"],
              "purposes": {
                "product-improvement": { "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "dt/pb/{sn}/status",
                                         "captures": { "sn": "pseudonymize" }, "fields": { "battery_soc": "keep" } },
                "pi-aggregate": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/pb/status",
                  "aggregate": {
                    "window": "PT10S", "groupBy": ["pn"], "minDevices": 10,
                    "metrics": {
                      "battery_soc": { "stats": ["count", "sum", "mean", "min", "max", "p50"], "clip": [0, 100], "resolution": 1 },
                      "temperature_c": { "stats": ["sum"], "clip": [-40, 80], "resolution": 0.5 },
                      "network.wifi_signal": { "stats": ["sum", "min"], "clip": [-100, 0], "resolution": 1 },
                      "error_code": { "stats": ["histogram"], "values": [0, 1, 2, 3] }
                    }
                  }
                },
                "bp-aggregate": {
                  "purpose": "business-performance", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/pb/fleet",
                  "aggregate": {
                    "window": "PT10S", "minDevices": 10,
                    "metrics": { "solar_power_w": { "stats": ["count", "sum"], "clip": [0, 5000], "resolution": 1 } }
                  }
                }
              }
            }
          }
        }
        """;

    // SOLIX: metrics and a group named as the message map names them; an A17C0's 0405 status message.
    internal const string SolixPolicy = """
        {
          "id": "agg-solix", "version": "1",
          "streams": {
            "solix-state-info": {
              "topic": "dt/anker_power/{pn}/{sn}/state_info", "format": "solix", "device": "sn", "categories": ["device", "usage"],
              "purposes": {
                "pi-aggregate": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/{pn}/state", "captures": { "pn": "keep" },
                  "aggregate": {
                    "window": "PT10S", "groupBy": ["pn", "temp_unit_fahrenheit"], "minDevices": 10,
                    "metrics": {
                      "battery_soc": { "stats": ["count", "sum", "mean", "max"], "clip": [0, 100], "resolution": 1 },
                      "photovoltaic_power": { "stats": ["sum"], "clip": [0, 2000], "resolution": 1 },
                      "pv_yield": { "stats": ["sum"], "clip": [0, 100000000], "resolution": 1 }
                    }
                  }
                }
              }
            }
          }
        }
        """;

    public static TheoryData<Segmentation> All => Segments.All;

    [Theory]
    [MemberData(nameof(All))]
    public void A_protobuf_fleet_gives_exact_aggregates_for_every_entry_and_a_small_group_is_suppressed(Segmentation segmentation)
    {
        var (policy, clock, minimizer) = AggregationTests.Start(ProtobufPolicy);
        using var _ = minimizer;
        var fleet = Enumerable.Range(0, 24).Select(d => Status(d, d < 21 ? "A17C0" : "A1780")).ToList();
        foreach (var (status, d) in fleet.Select((s, d) => (s, d)))
        {
            var result = minimizer.Minimize(ProtobufTopic(d), Segments.Split(status.ToByteArray(), segmentation));
            Assert.False(result.IsQuarantined);
            Assert.Single(result.Outputs.ToArray());
        }
        clock.Advance(TimeSpan.FromSeconds(10));
        var entries = policy.Streams[0].Purposes;
        var reports = new List<AggregateWindowReport>();

        var release = Assert.Single(entries[1].Aggregator!.ReleaseEnded(reports));
        var fleetRelease = Assert.Single(entries[2].Aggregator!.ReleaseEnded());

        Assert.Equal(new AggregateWindowReport(2, 1, 1, 24, 0, 0), Assert.Single(reports));
        Assert.Equal("agg/pb/status", release.Topic);
        var big = fleet.Take(21).ToList();
        using var json = JsonDocument.Parse(release.Payload);
        var root = json.RootElement;
        Assert.Equal("A17C0", root.GetProperty("group").GetProperty("pn").GetString());
        Assert.Equal(21, root.GetProperty("devices").GetInt64());
        var metrics = root.GetProperty("metrics");
        var soc = metrics.GetProperty("battery_soc");
        Assert.Equal(21, soc.GetProperty("count").GetInt64());
        Assert.Equal(big.Sum(s => s.BatterySoc), soc.GetProperty("sum").GetDouble());
        Assert.Equal(big.Average(s => s.BatterySoc), soc.GetProperty("mean").GetDouble(), 9);
        Assert.Equal(big.Min(s => s.BatterySoc), soc.GetProperty("min").GetDouble());
        Assert.Equal(big.Max(s => s.BatterySoc), soc.GetProperty("max").GetDouble());
        Assert.Equal(big.Select(s => s.BatterySoc).Order().ElementAt(10), soc.GetProperty("p50").GetDouble());
        Assert.Equal(big.Sum(s => s.TemperatureC), metrics.GetProperty("temperature_c").GetProperty("sum").GetDouble(), 9);
        // A nested sint32 (zigzag on the wire), negative values.
        Assert.Equal(big.Sum(s => s.Network.WifiSignal), metrics.GetProperty("network.wifi_signal").GetProperty("sum").GetDouble());
        Assert.Equal(big.Min(s => s.Network.WifiSignal), metrics.GetProperty("network.wifi_signal").GetProperty("min").GetDouble());
        var histogram = metrics.GetProperty("error_code").GetProperty("histogram");
        Assert.Equal(big.Count(s => s.ErrorCode == 2), histogram.GetProperty("2").GetInt64());
        Assert.Equal(big.Count(s => s.ErrorCode > 3), histogram.GetProperty("other").GetInt64());
        // The second entry, read from the same scan: the whole fleet in one group.
        using var fleetJson = JsonDocument.Parse(fleetRelease.Payload);
        Assert.Equal(fleet.Sum(s => s.SolarPowerW), fleetJson.RootElement.GetProperty("metrics").GetProperty("solar_power_w").GetProperty("sum").GetDouble());
        Assert.Equal(24, entries[1].Counters[ProcessingAction.Aggregated]);
        Assert.Equal(24, entries[2].Counters[ProcessingAction.Aggregated]);
        Assert.DoesNotContain("PBSERIAL", System.Text.Encoding.UTF8.GetString(release.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void A_protobuf_device_reporting_a_thousand_times_counts_once_with_its_latest_value()
    {
        var (policy, clock, minimizer) = AggregationTests.Start(ProtobufPolicy);
        using var _ = minimizer;
        for (var d = 0; d < 9; d++)
        {
            minimizer.Minimize(ProtobufTopic(d), new ReadOnlySequence<byte>(new DeviceStatus { Pn = "A17C0", BatterySoc = 50 }.ToByteArray()));
        }
        for (var i = 0; i <= 1000; i++)
        {
            minimizer.Minimize(ProtobufTopic(99), new ReadOnlySequence<byte>(new DeviceStatus { Pn = "A17C0", BatterySoc = i % 101 }.ToByteArray()));
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());

        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal(10, json.RootElement.GetProperty("devices").GetInt64());
        Assert.Equal((9 * 50) + (1000 % 101), json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
    }

    [Fact]
    public void An_absent_protobuf_scalar_reads_as_its_proto3_default()
    {
        var (policy, clock, minimizer) = AggregationTests.Start(ProtobufPolicy.Replace("\"minDevices\": 10,", "\"minDevices\": 2,", StringComparison.Ordinal));
        using var _ = minimizer;

        // Zeros are not on the wire, and the product code is the empty string: what the message says, by proto3.
        minimizer.Minimize(ProtobufTopic(1), new ReadOnlySequence<byte>(new DeviceStatus { Ts = 5 }.ToByteArray()));
        minimizer.Minimize(ProtobufTopic(2), new ReadOnlySequence<byte>(new DeviceStatus { BatterySoc = 8 }.ToByteArray()));
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());
        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal("", json.RootElement.GetProperty("group").GetProperty("pn").GetString());
        var soc = json.RootElement.GetProperty("metrics").GetProperty("battery_soc");
        Assert.Equal(2, soc.GetProperty("count").GetInt64());
        Assert.Equal(8, soc.GetProperty("sum").GetDouble());
        Assert.Equal(2, json.RootElement.GetProperty("metrics").GetProperty("error_code").GetProperty("histogram").GetProperty("0").GetInt64());
    }

    [Theory]
    [MemberData(nameof(All))]
    public void A_solix_fleet_gives_exact_aggregates_per_model_and_unit_and_a_small_group_is_suppressed(Segmentation segmentation)
    {
        var (policy, clock, minimizer) = AggregationTests.Start(SolixPolicy);
        using var _ = minimizer;
        var fleet = Enumerable.Range(0, 25).Select(d => (Soc: (byte)(d * 4), Power: (short)(d * 37), Yield: (uint)(d * 100_003), Fahrenheit: d >= 22)).ToList();
        for (var d = 0; d < fleet.Count; d++)
        {
            var (soc, power, yield, fahrenheit) = fleet[d];
            var result = minimizer.Minimize(SolixTopic(d), Segments.Split(SolixStatus(d, soc, power, yield, fahrenheit), segmentation));
            Assert.False(result.IsQuarantined);
        }
        // A versions message of the same devices carries none of the metrics: withheld, and the devices count once.
        minimizer.Minimize(SolixTopic(0), new ReadOnlySequence<byte>(SolixMessages.Envelope(
            SolixMessages.Binary(0x0830, SolixMessages.StringField(0xa1, "v1.0"), SolixMessages.StringField(0xa2, "v2.0")), SolixSerial(0))));
        clock.Advance(TimeSpan.FromSeconds(10));
        var reports = new List<AggregateWindowReport>();
        var entry = policy.Streams[0].Purposes[0];

        var release = Assert.Single(entry.Aggregator!.ReleaseEnded(reports));

        Assert.Equal(new AggregateWindowReport(2, 1, 1, 25, 0, 0), Assert.Single(reports));
        Assert.Equal("agg/A17C0/state", release.Topic);
        using var json = JsonDocument.Parse(release.Payload);
        var root = json.RootElement;
        Assert.Equal("0", root.GetProperty("group").GetProperty("temp_unit_fahrenheit").GetString());
        Assert.Equal(22, root.GetProperty("devices").GetInt64());
        var celsius = fleet.Take(22).ToList();
        var metrics = root.GetProperty("metrics");
        Assert.Equal(celsius.Sum(f => (int)f.Soc), metrics.GetProperty("battery_soc").GetProperty("sum").GetDouble());
        Assert.Equal(84, metrics.GetProperty("battery_soc").GetProperty("max").GetDouble());
        Assert.Equal(celsius.Sum(f => (int)f.Power), metrics.GetProperty("photovoltaic_power").GetProperty("sum").GetDouble());
        Assert.Equal(celsius.Sum(f => (double)f.Yield), metrics.GetProperty("pv_yield").GetProperty("sum").GetDouble());
        Assert.Equal(25, entry.Counters[ProcessingAction.Aggregated]);
        Assert.Equal(1, entry.Counters[ProcessingAction.Withheld]);
        Assert.DoesNotContain("SOLX", System.Text.Encoding.UTF8.GetString(release.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void A_solix_device_reporting_a_thousand_times_counts_once_with_its_latest_value()
    {
        var (policy, clock, minimizer) = AggregationTests.Start(SolixPolicy);
        using var _ = minimizer;
        for (var d = 0; d < 9; d++)
        {
            minimizer.Minimize(SolixTopic(d), new ReadOnlySequence<byte>(SolixStatus(d, 10, 0, 0, false)));
        }
        for (var i = 0; i <= 1000; i++)
        {
            minimizer.Minimize(SolixTopic(42), new ReadOnlySequence<byte>(SolixStatus(42, (byte)(i % 101), 0, 0, false)));
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[0].Aggregator!.ReleaseEnded());

        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal(10, json.RootElement.GetProperty("devices").GetInt64());
        Assert.Equal((9 * 10) + (1000 % 101), json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
    }

    [Fact]
    public void Objection_and_restriction_keep_protobuf_and_solix_devices_out_before_they_are_folded()
    {
        var choices = new Choices();
        IPurposeGate[] Gates() => [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)];
        var protobuf = TestPolicies.CompileValid(ProtobufPolicy);
        var solix = TestPolicies.CompileValid(SolixPolicy);
        using var protobufMinimizer = new Minimizer(protobuf, TestPolicies.Key, Gates());
        using var solixMinimizer = new Minimizer(solix, TestPolicies.Key, Gates());
        choices.Record($"PBSERIAL{0:D8}", ChoiceAction.Objection, Purpose.ProductImprovement);
        choices.Record($"PBSERIAL{1:D8}", ChoiceAction.Restrict, Purpose.AfterSalesService);
        choices.Record(SolixSerial(0), ChoiceAction.Objection, Purpose.ProductImprovement);
        choices.Record(SolixSerial(1), ChoiceAction.Restrict, Purpose.AfterSalesService);

        for (var d = 0; d < 11; d++)
        {
            protobufMinimizer.Minimize(ProtobufTopic(d), new ReadOnlySequence<byte>(Status(d, "A17C0").ToByteArray()));
            solixMinimizer.Minimize(SolixTopic(d), new ReadOnlySequence<byte>(SolixStatus(d, 50, 1, 1, false)));
        }

        foreach (var entry in new[] { protobuf.Streams[0].Purposes[1], solix.Streams[0].Purposes[0] })
        {
            Assert.Equal(9, entry.Counters[ProcessingAction.Aggregated]);
            Assert.Equal(1, entry.Counters[ProcessingAction.Objected]);
            Assert.Equal(1, entry.Counters[ProcessingAction.Restricted]);
            // Nine devices, k = 10: nothing is released, not even at stop.
            Assert.Empty(entry.Aggregator!.ReleaseAll());
        }
        // The objection is to product improvement only: the business-performance entry still counts that device.
        Assert.Equal(10, protobuf.Streams[0].Purposes[2].Counters[ProcessingAction.Aggregated]);
    }

    [Fact]
    public void Folding_protobuf_and_solix_messages_allocates_nothing_per_message_in_steady_state()
    {
        var (_, _, protobufMinimizer) = AggregationTests.Start(ProtobufPolicy);
        var (_, _, solixMinimizer) = AggregationTests.Start(SolixPolicy);
        using var _ = protobufMinimizer;
        using var __ = solixMinimizer;
        var protobufTopics = Enumerable.Range(0, 40).Select(ProtobufTopic).ToArray();
        var protobufPayloads = Enumerable.Range(0, 40).Select(d => new ReadOnlySequence<byte>(Status(d, "A17C0").ToByteArray())).ToArray();
        var solixTopics = Enumerable.Range(0, 40).Select(SolixTopic).ToArray();
        var solixPayloads = Enumerable.Range(0, 40).Select(d => new ReadOnlySequence<byte>(SolixStatus(d, (byte)d, 5, 7, d % 2 == 0))).ToArray();
        void Run()
        {
            for (var i = 0; i < protobufTopics.Length; i++)
            {
                protobufMinimizer.Minimize(protobufTopics[i], protobufPayloads[i]);
                solixMinimizer.Minimize(solixTopics[i], solixPayloads[i]);
            }
        }

        Assert.Equal(0, Allocations.SteadyState(Run, rounds: 2));
    }

    [Fact]
    public void Protobuf_aggregate_entries_are_validated_with_every_error_at_once()
    {
        var bad = ProtobufPolicy
            .Replace("\"groupBy\": [\"pn\"], \"minDevices\": 10,", "\"groupBy\": [\"sn\", \"battery_soc\", \"network.wifi_name\"], \"minDevices\": 1, \"noise\": { \"epsilon\": 11 },", StringComparison.Ordinal)
            .Replace("\"error_code\": { \"stats\": [\"histogram\"], \"values\": [0, 1, 2, 3] }",
                "\"error_code\": { \"stats\": [\"sum\"] }, \"pn\": { \"stats\": [\"sum\"] }, \"cell_voltages_mv\": { \"stats\": [\"sum\"] }, \"nope\": { \"stats\": [\"sum\"] }, \"location.latitude\": { \"stats\": [\"sum\"] }, \"network.nope\": { \"stats\": [\"sum\"] }",
                StringComparison.Ordinal);

        var errors = TestPolicies.Compile(bad).Errors;

        const string At = "$.streams.status.purposes.pi-aggregate.aggregate";
        void Has(string path, string text) => Assert.Contains(errors, e => e.Path == path && e.Message.Contains(text, StringComparison.Ordinal));
        Has($"{At}.groupBy[0]", "device capture");
        Has($"{At}.groupBy[1]", "a group is a string, enum or bool field");
        Has($"{At}.groupBy[2]", "identifies a device");
        Has($"{At}.minDevices", "");
        Has($"{At}.noise.epsilon", "(0, 10]");
        Has($"{At}.metrics.error_code.clip", "is required with noise");
        Has($"{At}.metrics.pn", "a metric is a numeric scalar field");
        Has($"{At}.metrics.cell_voltages_mv", "repeated");
        Has($"{At}.metrics.nope", "has no field 'nope'");
        Has($"{At}.metrics['location.latitude']", "neither a device identifier");
        Has($"{At}.metrics['network.nope']", "DeviceNetwork has no field 'nope'");
    }

    [Fact]
    public void Solix_aggregate_entries_are_validated_with_every_error_at_once()
    {
        var bad = SolixPolicy
            .Replace("\"groupBy\": [\"pn\", \"temp_unit_fahrenheit\"], \"minDevices\": 10,",
                "\"groupBy\": [\"sn\", \"device_pn\", \"no_such_field\"], \"minDevices\": 1, \"noise\": { \"epsilon\": 0 },", StringComparison.Ordinal)
            .Replace("\"pv_yield\": { \"stats\": [\"sum\"], \"clip\": [0, 100000000], \"resolution\": 1 }",
                "\"pv_yield\": { \"stats\": [\"sum\"] }, \"wifi_name\": { \"stats\": [\"sum\"] }, \"0w_switch_bt_mac\": { \"stats\": [\"sum\"] }, \"usbc_1_voltage\": { \"stats\": [\"sum\"] }, \"nothing_like_it\": { \"stats\": [\"sum\"] }",
                StringComparison.Ordinal);

        var errors = TestPolicies.Compile(bad).Errors;

        const string At = "$.streams.solix-state-info.purposes.pi-aggregate.aggregate";
        void Has(string path, string text) => Assert.Contains(errors, e => e.Path == path && e.Message.Contains(text, StringComparison.Ordinal));
        Has($"{At}.groupBy[0]", "device capture");
        Has($"{At}.groupBy[1]", "carries a serial");
        Has($"{At}.groupBy[2]", "not a field name of the SOLIX message map");
        Has($"{At}.minDevices", "");
        Has($"{At}.noise.epsilon", "(0, 10]");
        Has($"{At}.metrics.pv_yield.clip", "is required with noise");
        Has($"{At}.metrics.wifi_name", "neither a device identifier");
        Has($"{At}.metrics.0w_switch_bt_mac", "carries a MAC address");
        Has($"{At}.metrics.usbc_1_voltage", "packed with other values");
        Has($"{At}.metrics.nothing_like_it", "not a field name of the SOLIX message map");
    }

    [Fact]
    public void A_format_without_an_aggregate_reader_is_rejected()
    {
        var text = TestPolicies.Compile(SolixPolicy.Replace("\"format\": \"solix\"", "\"format\": \"text\"", StringComparison.Ordinal));

        Assert.Contains(text.Errors, e => e.Path == "$.streams.solix-state-info.purposes.pi-aggregate.aggregate"
            && e.Message.Contains("aggregates read json, protobuf, solix payloads; this stream's format is 'text'", StringComparison.Ordinal));
    }

    [Fact]
    public void The_shipped_solix_and_protobuf_policies_fold_their_status_messages_into_their_aggregate_entries()
    {
        var solix = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var solixMinimizer = new Minimizer(solix, TestPolicies.Key);
        var statuses = SolixMessages.Corpus.Where(m => !m.IsBad && m.Topic.EndsWith("/param_info", StringComparison.Ordinal) && SolixMessages.TypeOf(m) == "0405").ToList();
        var versions = SolixMessages.Corpus.Where(m => !m.IsBad && m.Topic.EndsWith("/param_info", StringComparison.Ordinal) && SolixMessages.TypeOf(m) == "0830").ToList();
        Assert.NotEmpty(statuses);
        Assert.NotEmpty(versions);

        foreach (var message in statuses.Concat(versions))
        {
            Assert.False(solixMinimizer.Minimize(message.Topic, new ReadOnlySequence<byte>(message.Payload)).IsQuarantined);
        }

        var entry = Assert.Single(solix.Streams.Single(s => s.Name == "solix-param-info").Purposes, p => p.Aggregate is not null);
        Assert.Equal("product-improvement-aggregate", entry.Name);
        // Every status message of a model the map knows carries a metric; version messages carry none (withheld).
        Assert.Equal(statuses.Count, entry.Counters[ProcessingAction.Aggregated]);
        Assert.Equal(versions.Count, entry.Counters[ProcessingAction.Withheld]);

        var protobuf = PolicyCompiler.CompileFile(Protobuf.ProtobufSamples.PolicyPath);
        using var protobufMinimizer = new Minimizer(protobuf, TestPolicies.Key);
        Assert.False(protobufMinimizer.Minimize(Protobuf.ProtobufSamples.Topic("status"), new ReadOnlySequence<byte>(Protobuf.ProtobufSamples.Status().ToByteArray())).IsQuarantined);
        var protobufEntry = Assert.Single(protobuf.Streams.Single(s => s.Name == "status").Purposes, p => p.Aggregate is not null);
        Assert.Equal(1, protobufEntry.Counters[ProcessingAction.Aggregated]);
    }

    internal static string ProtobufTopic(int device) => string.Create(CultureInfo.InvariantCulture, $"dt/anker_power/pb/PBSERIAL{device:D8}/status");

    internal static DeviceStatus Status(int device, string pn) => new()
    {
        Sn = string.Create(CultureInfo.InvariantCulture, $"PBSERIAL{device:D8}"),
        Pn = pn,
        Ts = 1_760_000_000 + device,
        BatterySoc = (device * 7) % 101,
        SolarPowerW = device * 113,
        TemperatureC = -10.5 + device,
        ErrorCode = device % 6,
        Network = new DeviceNetwork { WifiName = "HomeNet", WifiSignal = -30 - device },
    };

    internal static string SolixSerial(int device) => string.Create(CultureInfo.InvariantCulture, $"SOLX{device:D12}");

    internal static string SolixTopic(int device) => $"dt/anker_power/A17C0/{SolixSerial(device)}/state_info";

    /// <summary>An A17C0 0405 status message: serial (a2), state of charge (a3, uint8), unit (a9, uint8), PV power (ab, int16), PV yield (b1, uint32).</summary>
    internal static byte[] SolixStatus(int device, byte soc, short power, uint yield, bool fahrenheit)
    {
        var powerBytes = new byte[2];
        BinaryPrimitives.WriteInt16LittleEndian(powerBytes, power);
        var yieldBytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(yieldBytes, yield);
        var binary = SolixMessages.Binary(0x0405,
            SolixMessages.StringField(0xa2, SolixSerial(device)),
            SolixMessages.Field(0xa3, 0x01, [soc]),
            SolixMessages.Field(0xa9, 0x01, [fahrenheit ? (byte)1 : (byte)0]),
            SolixMessages.Field(0xab, 0x02, powerBytes),
            SolixMessages.Field(0xb1, 0x03, yieldBytes));
        return SolixMessages.Envelope(binary, SolixSerial(device), "A17C0");
    }

    private sealed class Choices : IChoicesSource
    {
        public ChoicesSnapshot Current { get; private set; } = ChoicesSnapshot.Empty;

        public void Record(string device, ChoiceAction action, params Purpose[] purposes)
        {
            var request = new ChoiceRequest(device, action, PurposeSet.Of(purposes), false, "2025-09-26", "test", ChoiceSource.Cli);
            Current = Current.With(device, Current.Of(device).Apply(request));
        }
    }
}
