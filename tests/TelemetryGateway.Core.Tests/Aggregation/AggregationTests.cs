using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Aggregation;

/// <summary>Anonymous aggregates (issue 18): windows, k-suppression, one contribution per device, gates, bounds, flush.</summary>
public sealed class AggregationTests
{
    internal const string Policy = """
        {
          "id": "agg", "version": "1",
          "streams": {
            "status": {
              "topic": "dt/anker_power/{pn}/{sn}/status", "categories": ["device", "usage"],
              "purposes": {
                "product-improvement": { "legalBasis": "legitimate-interest", "retention": "P1Y", "topic": "dt/{pn}/{sn}/status",
                                         "captures": { "pn": "keep", "sn": "pseudonymize" }, "fields": { "battery_soc": "keep" } },
                "product-improvement-aggregate": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/{pn}/status", "captures": { "pn": "keep" },
                  "aggregate": {
                    "window": "PT10S", "groupBy": ["pn"], "minDevices": 10,
                    "metrics": {
                      "battery_soc": { "stats": ["count", "sum", "mean", "min", "max", "p50"], "clip": [0, 100], "resolution": 1 },
                      "error_code": { "stats": ["histogram"], "values": [0, 1, 2, 3] }
                    }
                  }
                }
              }
            }
          }
        }
        """;

    private static readonly DateTimeOffset s_start = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_aggregate_entry_compiles_with_no_personal_category_and_its_tags()
    {
        var entry = TestPolicies.CompileValid(Policy).Streams[0].Purposes[1];

        Assert.NotNull(entry.Aggregate);
        Assert.Equal(DataCategory.None, entry.Categories);
        Assert.Empty(entry.OutputTags.CategoryList);
        Assert.True(entry.OutputTags.Anonymous);
        Assert.Equal("PT10S", entry.OutputTags.Window);
        Assert.Equal(10, entry.OutputTags.K);
        Assert.Equal("none", entry.OutputTags.Epsilon);
        Assert.Equal("product-improvement", entry.OutputTags.Purpose);
    }

    [Fact]
    public void Two_hundred_devices_give_exact_aggregates_per_group_and_a_small_group_is_suppressed()
    {
        var (policy, clock, minimizer) = Start(Policy);
        using var _ = minimizer;
        var expected = new Dictionary<string, List<int>> { ["A17C0"] = [], ["A1780"] = [] };
        for (var d = 0; d < 200; d++)
        {
            var pn = d < 195 ? "A17C0" : "A1780";
            var charge = d % 101;
            expected[pn].Add(charge);
            Publish(minimizer, pn, d, charge, d % 5);
        }
        var aggregator = policy.Streams[0].Purposes[1].Aggregator!;
        Assert.Empty(aggregator.ReleaseEnded());

        clock.Advance(TimeSpan.FromSeconds(10));
        var reports = new List<AggregateWindowReport>();
        var releases = aggregator.ReleaseEnded(reports);

        var release = Assert.Single(releases);
        Assert.Equal("agg/A17C0/status", release.Topic);
        Assert.Equal(s_start, release.WindowStart);
        Assert.Equal(s_start.AddSeconds(10), release.WindowEnd);
        using var json = JsonDocument.Parse(release.Payload);
        var root = json.RootElement;
        Assert.Equal(195, root.GetProperty("devices").GetInt64());
        Assert.Equal("A17C0", root.GetProperty("group").GetProperty("pn").GetString());
        var soc = root.GetProperty("metrics").GetProperty("battery_soc");
        var values = expected["A17C0"];
        Assert.Equal(195, soc.GetProperty("count").GetInt64());
        Assert.Equal(values.Sum(), soc.GetProperty("sum").GetDouble());
        Assert.Equal(values.Average(), soc.GetProperty("mean").GetDouble(), 9);
        Assert.Equal(values.Min(), soc.GetProperty("min").GetDouble());
        Assert.Equal(values.Max(), soc.GetProperty("max").GetDouble());
        Assert.Equal(values.Order().ElementAt((values.Count - 1) / 2), soc.GetProperty("p50").GetDouble());
        var histogram = root.GetProperty("metrics").GetProperty("error_code").GetProperty("histogram");
        Assert.Equal(39, histogram.GetProperty("0").GetInt64());
        Assert.Equal(39, histogram.GetProperty("3").GetInt64());
        Assert.Equal(39, histogram.GetProperty("other").GetInt64());
        Assert.Equal(new AggregateWindowReport(2, 1, 1, 200, 0, 0), Assert.Single(reports));
        Assert.Equal(200, policy.Streams[0].Purposes[1].Counters[ProcessingAction.Aggregated]);
        Assert.Equal(200, policy.Streams[0].Purposes[0].Counters[ProcessingAction.Forwarded]);
        // The released payload names no device, not even as a pseudonym.
        Assert.DoesNotContain("SERIAL", Encoding.UTF8.GetString(release.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void A_device_reporting_a_thousand_times_counts_once_with_its_latest_value()
    {
        var (policy, clock, minimizer) = Start(Policy);
        using var _ = minimizer;
        for (var d = 0; d < 9; d++)
        {
            Publish(minimizer, "A17C0", d, 50, 0);
        }
        for (var i = 0; i < 1000; i++)
        {
            Publish(minimizer, "A17C0", 99, i % 100, 1);
        }
        Publish(minimizer, "A17C0", 99, 100, 1);
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());

        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal(10, json.RootElement.GetProperty("devices").GetInt64());
        var soc = json.RootElement.GetProperty("metrics").GetProperty("battery_soc");
        Assert.Equal(10, soc.GetProperty("count").GetInt64());
        Assert.Equal((9 * 50) + 100, soc.GetProperty("sum").GetDouble());
        Assert.Equal(1, json.RootElement.GetProperty("metrics").GetProperty("error_code").GetProperty("histogram").GetProperty("1").GetInt64());
    }

    [Fact]
    public void Values_are_clipped_to_the_bounds()
    {
        var (policy, clock, minimizer) = Start(Policy);
        using var _ = minimizer;
        for (var d = 0; d < 10; d++)
        {
            Publish(minimizer, "A17C0", d, d == 0 ? 1_000_000 : -5, 0);
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());

        using var json = JsonDocument.Parse(release.Payload);
        var soc = json.RootElement.GetProperty("metrics").GetProperty("battery_soc");
        Assert.Equal(100, soc.GetProperty("sum").GetDouble());
        Assert.Equal(100, soc.GetProperty("max").GetDouble());
        Assert.Equal(0, soc.GetProperty("min").GetDouble());
    }

    [Fact]
    public void Objection_and_restriction_keep_a_device_out_of_the_aggregate_before_it_is_folded()
    {
        var choices = new Choices();
        var policy = TestPolicies.CompileValid(Policy);
        var clock = new ManualClock(s_start);
        policy.Streams[0].Purposes[1].Aggregator!.Time = clock;
        using var minimizer = new Minimizer(policy, TestPolicies.Key,
            [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)]);
        choices.Record(Serial(0), ChoiceAction.Objection, Purpose.ProductImprovement);
        choices.Record(Serial(1), ChoiceAction.Restrict, Purpose.AfterSalesService);
        for (var d = 0; d < 11; d++)
        {
            Publish(minimizer, "A17C0", d, 100, 0);
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Empty(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());
        var entry = policy.Streams[0].Purposes[1];
        Assert.Equal(9, entry.Counters[ProcessingAction.Aggregated]);
        Assert.Equal(1, entry.Counters[ProcessingAction.Objected]);
        Assert.Equal(1, entry.Counters[ProcessingAction.Restricted]);
    }

    [Fact]
    public void At_shutdown_an_open_window_is_released_if_it_meets_k_and_dropped_otherwise()
    {
        var (policy, _, minimizer) = Start(Policy);
        using var __ = minimizer;
        for (var d = 0; d < 12; d++)
        {
            Publish(minimizer, d < 10 ? "A17C0" : "A1780", d, 40, 0);
        }
        var aggregator = policy.Streams[0].Purposes[1].Aggregator!;
        Assert.Empty(aggregator.ReleaseEnded());

        var reports = new List<AggregateWindowReport>();
        var release = Assert.Single(aggregator.ReleaseAll(reports));

        Assert.Equal("agg/A17C0/status", release.Topic);
        Assert.Equal(1, Assert.Single(reports).Suppressed);
        Assert.Empty(aggregator.ReleaseAll());
    }

    [Fact]
    public void Groups_per_window_and_devices_per_window_are_bounded_and_the_overflow_counted()
    {
        var bounded = Policy.Replace("\"minDevices\": 10,", "\"minDevices\": 2, \"maxGroups\": 2, \"maxDevices\": 5,", StringComparison.Ordinal);
        var (policy, clock, minimizer) = Start(bounded);
        using var _ = minimizer;
        for (var d = 0; d < 12; d++)
        {
            Publish(minimizer, $"PN{d % 3}", d, 40, 0);
        }
        clock.Advance(TimeSpan.FromSeconds(10));
        var reports = new List<AggregateWindowReport>();

        var releases = policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded(reports);

        var report = Assert.Single(reports);
        Assert.Equal(2, report.Groups);
        Assert.Equal(5, report.Folded);
        Assert.Equal(4, report.GroupOverflow);
        Assert.Equal(3, report.DeviceOverflow);
        Assert.Equal(2, releases.Count);
        Assert.Equal(7, policy.Streams[0].Purposes[1].Counters[ProcessingAction.Withheld]);
    }

    [Fact]
    public void A_window_that_ends_while_messages_arrive_is_kept_for_release_and_the_next_one_opens()
    {
        var (policy, clock, minimizer) = Start(Policy);
        using var _ = minimizer;
        for (var d = 0; d < 10; d++)
        {
            Publish(minimizer, "A17C0", d, 10, 0);
        }
        clock.Advance(TimeSpan.FromSeconds(10));
        for (var d = 0; d < 10; d++)
        {
            Publish(minimizer, "A17C0", d, 20, 0);
        }

        var first = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());
        clock.Advance(TimeSpan.FromSeconds(10));
        var second = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());

        Assert.Equal(s_start, first.WindowStart);
        Assert.Equal(s_start.AddSeconds(10), second.WindowStart);
        using var json = JsonDocument.Parse(second.Payload);
        Assert.Equal(200, json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
    }

    [Fact]
    public void Folding_allocates_nothing_per_message_in_steady_state()
    {
        var (_, _, minimizer) = Start(Policy);
        using var __ = minimizer;
        var topics = Enumerable.Range(0, 50).Select(d => $"dt/anker_power/A17C0/{Serial(d)}/status").ToArray();
        var payloads = Enumerable.Range(0, 50).Select(d => new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $$"""{"battery_soc":{{d}},"error_code":1,"solar_power_w":3}""")))).ToArray();
        void Run()
        {
            for (var i = 0; i < topics.Length; i++)
            {
                minimizer.Minimize(topics[i], payloads[i]);
            }
        }

        Assert.Equal(0, Allocations.SteadyState(Run, rounds: 2));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void A_group_field_and_metrics_are_read_from_any_segmentation(Segmentation segmentation)
    {
        var byField = Policy.Replace("\"groupBy\": [\"pn\"]", "\"groupBy\": [\"pn\", \"model\"]", StringComparison.Ordinal);
        var (policy, clock, minimizer) = Start(byField);
        using var _ = minimizer;
        for (var d = 0; d < 10; d++)
        {
            var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $$"""{"nested":{"battery_soc":1},"model":"F\u00fcnf","battery_soc":{{d}}.0e0,"error_code":2}"""));
            minimizer.Minimize($"dt/anker_power/A17C0/{Serial(d)}/status", Segments.Split(payload, segmentation));
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        var release = Assert.Single(policy.Streams[0].Purposes[1].Aggregator!.ReleaseEnded());

        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal("Fünf", json.RootElement.GetProperty("group").GetProperty("model").GetString());
        Assert.Equal(45, json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
    }

    [Fact]
    public void Every_corpus_status_message_folds_into_the_shipped_aggregate_entries()
    {
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        var messages = Support.Corpus.Messages.Where(m => !m.IsBad && m.Topic.EndsWith("/status", StringComparison.Ordinal)).ToList();

        foreach (var message in messages)
        {
            Assert.False(minimizer.Minimize(message.Topic, new ReadOnlySequence<byte>(message.Payload)).IsQuarantined);
        }

        var entries = policy.Streams.Single(s => s.Name == "status").Purposes.Where(p => p.Aggregate is not null).ToList();
        Assert.Equal(["product-improvement-aggregate", "business-performance-aggregate"], entries.Select(e => e.Name));
        Assert.All(entries, e => Assert.Equal(messages.Count, e.Counters[ProcessingAction.Aggregated]));
        Assert.All(entries, e => Assert.Equal(0, e.Counters[ProcessingAction.Withheld]));
    }

    internal static (CompiledPolicy Policy, ManualClock Clock, Minimizer Minimizer) Start(string json)
    {
        var policy = TestPolicies.CompileValid(json);
        var clock = new ManualClock(s_start);
        foreach (var entry in policy.Streams.SelectMany(s => s.Purposes).Where(p => p.Aggregator is not null))
        {
            entry.Aggregator!.Time = clock;
        }
        return (policy, clock, new Minimizer(policy, TestPolicies.Key));
    }

    internal static string Serial(int device) => string.Create(CultureInfo.InvariantCulture, $"SERIAL{device:D8}");

    private static void Publish(Minimizer minimizer, string pn, int device, int soc, int errorCode)
    {
        var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$"""{"sn":"{{Serial(device)}}","battery_soc":{{soc}},"error_code":{{errorCode}}}"""));
        var result = minimizer.Minimize($"dt/anker_power/{pn}/{Serial(device)}/status", new ReadOnlySequence<byte>(payload));
        Assert.False(result.IsQuarantined);
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

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
