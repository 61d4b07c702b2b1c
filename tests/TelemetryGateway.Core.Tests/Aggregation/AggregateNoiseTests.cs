using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Aggregation;

/// <summary>The noise of aggregates: its distribution, its calibration to one device's influence, and the policy's rules for it.</summary>
public sealed class AggregateNoiseTests
{
    private const string Noised = """
        {
          "id": "agg", "version": "1",
          "streams": {
            "status": {
              "topic": "dt/anker_power/{pn}/{sn}/status", "categories": ["device", "usage"],
              "purposes": {
                "agg": {
                  "purpose": "product-improvement", "legalBasis": "legitimate-interest", "retention": "P5Y",
                  "topic": "agg/{pn}/status", "captures": { "pn": "keep" },
                  "aggregate": {
                    "window": "PT10S", "groupBy": ["pn"], "minDevices": 2,
                    "metrics": { "battery_soc": { "stats": ["count", "sum", "mean"], "clip": [0, 100], "resolution": 1 } },
                    "noise": { "epsilon": 3 }
                  }
                }
              }
            }
          }
        }
        """;

    [Fact]
    public void The_sampler_matches_the_discrete_laplace_distribution_by_a_chi_square_test()
    {
        // 20,000 draws of scale 2 against the exact probabilities, bins |x| ≤ 8 and two tails (19 bins, 18 degrees of
        // freedom). The critical value 42.31 is the 0.999 quantile of chi-square(18): a correct sampler fails this
        // test with probability 0.001 for a random seed; with the fixed seed the outcome is deterministic.
        var source = new SeededNoise(20261203);
        const int Draws = 20_000;
        const double Scale = 2;
        var counts = new long[19];
        for (var i = 0; i < Draws; i++)
        {
            var x = DiscreteLaplace.Sample(source, Scale);
            counts[Math.Clamp(x, -9, 9) + 9]++;
        }
        var chi = 0.0;
        for (var bin = 0; bin < counts.Length; bin++)
        {
            var x = bin - 9;
            var p = x == -9 ? DiscreteLaplace.Cumulative(-9, Scale)
                : x == 9 ? 1 - DiscreteLaplace.Cumulative(8, Scale)
                : DiscreteLaplace.Probability(x, Scale);
            var expected = p * Draws;
            chi += (counts[bin] - expected) * (counts[bin] - expected) / expected;
        }
        Assert.True(chi < 42.31, $"chi-square {chi:F2} over 18 degrees of freedom");
    }

    [Fact]
    public void Released_minus_true_values_over_many_windows_follow_the_mechanism_by_a_kolmogorov_smirnov_test()
    {
        // 400 windows of 30 devices each; the noise of the released device count (scale 1 / (epsilon / 3 queries) = 1)
        // and of the sum (scale 100, the clip range over resolution 1, / 1) are tested against their exact CDFs.
        // The critical value 1.95 / sqrt(n) is the KS statistic's 0.001 level (for a discrete distribution the test is
        // conservative, so the false-alarm rate is at most 0.001 per statistic for a random seed).
        var (policy, clock, minimizer) = AggregationTests.Start(Noised);
        using var _ = minimizer;
        var aggregator = policy.Streams[0].Purposes[0].Aggregator!;
        aggregator.Noise = new SeededNoise(7);
        Assert.Equal(3, aggregator.Rules.NoisedQueries);
        const int Windows = 400;
        const int Devices = 30;
        var deviceNoise = new List<long>();
        var sumNoise = new List<long>();
        for (var w = 0; w < Windows; w++)
        {
            for (var d = 0; d < Devices; d++)
            {
                minimizer.Minimize($"dt/anker_power/A17C0/{AggregationTests.Serial(d)}/status",
                    new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"battery_soc":{{d}}}"""))));
            }
            clock.Advance(TimeSpan.FromSeconds(10));
            foreach (var release in aggregator.ReleaseEnded())
            {
                using var json = JsonDocument.Parse(release.Payload);
                deviceNoise.Add(json.RootElement.GetProperty("devices").GetInt64() - Devices);
                sumNoise.Add((long)json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble() - (Devices * (Devices - 1) / 2));
            }
        }
        Assert.True(deviceNoise.Count > Windows * 0.99, "a group of 30 devices is suppressed only when the noise is below -28");
        Assert.True(KolmogorovSmirnov(deviceNoise, 1) < 1.95 / Math.Sqrt(deviceNoise.Count));
        Assert.True(KolmogorovSmirnov(sumNoise, 100) < 1.95 / Math.Sqrt(sumNoise.Count));
    }

    [Fact]
    public void Removing_one_device_changes_each_exact_query_by_at_most_the_sensitivity_the_noise_is_calibrated_to()
    {
        var metric = TestPolicies.CompileValid(Noised).Streams[0].Purposes[0].Aggregate!.Metrics[0];
        Assert.Equal(100, metric.SumSensitivity);
        var random = new Random(11);
        var fleet = Enumerable.Range(0, 200).Select(_ => (random.NextDouble() * 300) - 100).ToArray();
        var full = AggregateOutput.Exact(metric, fleet);
        for (var removed = 0; removed < fleet.Length; removed++)
        {
            var neighbour = fleet.Where((_, i) => i != removed).ToArray();
            var less = AggregateOutput.Exact(metric, neighbour);
            Assert.Equal(1, full.Count - less.Count);
            Assert.True(Math.Abs(full.SumSteps - less.SumSteps) <= metric.SumSensitivity);
        }
        // The bound is reached: a device at a clipping bound moves the sum by exactly the sensitivity.
        var atBound = AggregateOutput.Exact(metric, [.. fleet, 1e6]);
        Assert.Equal(metric.SumSensitivity, atBound.SumSteps - full.SumSteps);
    }

    [Fact]
    public void With_noise_a_group_under_k_is_never_released_however_the_noise_falls()
    {
        var (policy, clock, minimizer) = AggregationTests.Start(Noised.Replace("\"minDevices\": 2", "\"minDevices\": 5", StringComparison.Ordinal));
        using var _ = minimizer;
        var aggregator = policy.Streams[0].Purposes[0].Aggregator!;
        aggregator.Noise = new SeededNoise(3);
        var released = 0;
        for (var w = 0; w < 300; w++)
        {
            for (var d = 0; d < 4; d++)
            {
                minimizer.Minimize($"dt/anker_power/A17C0/{AggregationTests.Serial(d)}/status", new ReadOnlySequence<byte>("""{"battery_soc":1}"""u8.ToArray()));
            }
            clock.Advance(TimeSpan.FromSeconds(10));
            released += aggregator.ReleaseEnded().Count;
        }

        Assert.Equal(0, released);
    }

    [Theory]
    [InlineData("\"groupBy\": [\"pn\"]", "\"groupBy\": [\"sn\"]", "$.streams.status.purposes.agg.aggregate.groupBy[0]")]
    [InlineData("\"groupBy\": [\"pn\"]", "\"groupBy\": [\"pn\", \"wifi_name\"]", "$.streams.status.purposes.agg.aggregate.groupBy[1]")]
    [InlineData("\"minDevices\": 2", "\"minDevices\": 1", "$.streams.status.purposes.agg.aggregate.minDevices")]
    [InlineData("\"epsilon\": 3", "\"epsilon\": 0", "$.streams.status.purposes.agg.aggregate.noise.epsilon")]
    [InlineData("\"epsilon\": 3", "\"epsilon\": 10.5", "$.streams.status.purposes.agg.aggregate.noise.epsilon")]
    [InlineData(", \"clip\": [0, 100]", "", "$.streams.status.purposes.agg.aggregate.metrics.battery_soc.clip")]
    [InlineData("[\"count\", \"sum\", \"mean\"]", "[\"count\", \"max\"]", "$.streams.status.purposes.agg.aggregate.metrics.battery_soc.stats[1]")]
    [InlineData("\"window\": \"PT10S\"", "\"window\": \"soon\"", "$.streams.status.purposes.agg.aggregate.window")]
    [InlineData("\"topic\": \"agg/{pn}/status\", \"captures\": { \"pn\": \"keep\" }", "\"topic\": \"agg/{sn}/status\", \"captures\": { \"sn\": \"keep\" }", "$.streams.status.purposes.agg.topic")]
    [InlineData("\"purpose\": \"product-improvement\",", "\"purpose\": \"product-improvement\", \"fields\": {},", "$.streams.status.purposes.agg.fields")]
    public void The_validator_rejects_an_unsafe_aggregate_with_the_path_of_the_problem(string from, string to, string path)
    {
        var compilation = TestPolicies.Compile(Noised.Replace(from, to, StringComparison.Ordinal));

        Assert.Null(compilation.Policy);
        Assert.Contains(compilation.Errors, e => e.Path == path);
    }

    [Fact]
    public void A_histogram_needs_its_values_and_aggregates_need_a_format_they_read()
    {
        var histogram = TestPolicies.Compile(Noised.Replace("[\"count\", \"sum\", \"mean\"]", "[\"histogram\"]", StringComparison.Ordinal));
        Assert.Contains(histogram.Errors, e => e.Path == "$.streams.status.purposes.agg.aggregate.metrics.battery_soc.values");

        var image = TestPolicies.Compile(Noised.Replace("\"categories\"", "\"format\": \"image\", \"categories\"", StringComparison.Ordinal));
        Assert.Contains(image.Errors, e => e.Path == "$.streams.status.purposes.agg.aggregate" && e.Message.Contains("this stream's format is 'image'", StringComparison.Ordinal));
    }

    private static double KolmogorovSmirnov(List<long> sample, double scale)
    {
        var sorted = sample.Order().ToArray();
        var worst = 0.0;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (i + 1 < sorted.Length && sorted[i + 1] == sorted[i])
            {
                continue;
            }
            // Compare the empirical and exact CDFs at each distinct value, and just below it.
            var empirical = (i + 1) / (double)sorted.Length;
            var below = (Array.IndexOf(sorted, sorted[i])) / (double)sorted.Length;
            worst = Math.Max(worst, Math.Abs(empirical - DiscreteLaplace.Cumulative(sorted[i], scale)));
            worst = Math.Max(worst, Math.Abs(below - DiscreteLaplace.Cumulative(sorted[i] - 1, scale)));
        }
        return worst;
    }

    /// <summary>A seeded source, for tests only: reproducible draws of the mechanism (production uses the CSPRNG).</summary>
    private sealed class SeededNoise(int seed) : INoiseSource
    {
        private readonly Random _random = new(seed);

        public ulong NextUInt64() => (ulong)_random.NextInt64() ^ ((ulong)_random.Next() << 63);
    }
}
