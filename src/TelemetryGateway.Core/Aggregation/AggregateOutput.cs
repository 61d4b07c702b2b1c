using System.Globalization;
using System.Text.Json;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>
/// Turns one group of one ended window into its released payload, or decides it is suppressed. Without noise the
/// statistics are exact over the devices' clipped latest values and a group under k distinct devices is suppressed.
/// With noise (ε per window and group, split evenly over <see cref="AggregateRules.NoisedQueries"/>), every released
/// number is an integer query plus <see cref="DiscreteLaplace"/> noise of scale sensitivity / ε-share: the distinct
/// device count (sensitivity 1, and the suppression decision reads the noised count), each metric's count of devices
/// with a value (1), its sum in whole resolution steps (the larger magnitude of the clipping bounds), its histogram
/// (1: a device is in one bin). A mean is the noised sum over the noised count, clamped to the bounds (post-processing).
/// A group is released only when its exact and its noised distinct-device counts both reach k: the exact floor keeps
/// every group under k back; deciding on it is outside the epsilon guarantee at the threshold (whether a group has k
/// devices or k - 1 shows in whether it appears), the usual delta of thresholded releases.
/// </summary>
internal static class AggregateOutput
{
    public static byte[]? Release(
        AggregateRules rules, string groupKey, int devices, double[][] values, DateTimeOffset start, DateTimeOffset end, INoiseSource noise)
    {
        var epsilon = rules.EpsilonPerQuery;
        var noised = rules.Epsilon is not null;
        var releasedDevices = noised ? devices + DiscreteLaplace.Sample(noise, 1 / epsilon) : devices;
        // Both counts decide: the exact one, so that no group under k is ever released (the noise could lift a group of
        // one device over k), and the noised one, so that a group just at k is not always released.
        if (devices < rules.MinDevices || releasedDevices < rules.MinDevices)
        {
            return null;
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("window", $"{start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}/{rules.WindowText}");
            json.WriteString("windowStart", start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            json.WriteString("windowEnd", end.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            json.WriteStartObject("group");
            var parts = groupKey.Split('\u001f');
            for (var g = 0; g < rules.GroupBy.Count; g++)
            {
                json.WriteString(rules.GroupBy[g], parts[g]);
            }
            json.WriteEndObject();
            json.WriteNumber("devices", releasedDevices);
            json.WriteNumber("k", rules.MinDevices);
            if (rules.Epsilon is { } total)
            {
                json.WriteNumber("epsilon", total);
            }
            json.WriteStartObject("metrics");
            for (var m = 0; m < rules.MetricArray.Length; m++)
            {
                WriteMetric(json, rules.MetricArray[m], values[m].AsSpan(0, devices), noised, epsilon, noise);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The exact integer queries of one metric over the devices' latest values, before any noise.</summary>
    public static (long Count, long SumSteps, long[] Histogram) Exact(AggregateMetric metric, ReadOnlySpan<double> values)
    {
        long count = 0;
        long sum = 0;
        var histogram = new long[metric.HistogramValues.Count + 1];
        foreach (var raw in values)
        {
            if (double.IsNaN(raw))
            {
                continue;
            }
            count++;
            sum += Steps(metric, raw);
            var bin = -1;
            for (var b = 0; b < metric.HistogramValues.Count && bin < 0; b++)
            {
                if (metric.HistogramValues[b] == raw)
                {
                    bin = b;
                }
            }
            histogram[bin < 0 ? metric.HistogramValues.Count : bin]++;
        }
        return (count, sum, histogram);
    }

    /// <summary>A value clipped to the bounds, in whole resolution steps.</summary>
    public static long Steps(AggregateMetric metric, double raw)
    {
        var clipped = metric.Low is { } low && metric.High is { } high ? Math.Clamp(raw, low, high) : raw;
        return (long)Math.Round(clipped / metric.Resolution, MidpointRounding.ToEven);
    }

    private static void WriteMetric(Utf8JsonWriter json, AggregateMetric metric, ReadOnlySpan<double> values, bool noised, double epsilon, INoiseSource noise)
    {
        var (count, sum, histogram) = Exact(metric, values);
        json.WriteStartObject(metric.Field);
        var stats = metric.Stats;
        if (noised)
        {
            if ((stats & (AggregateStat.Count | AggregateStat.Mean)) != 0)
            {
                count += DiscreteLaplace.Sample(noise, 1 / epsilon);
            }
            if ((stats & (AggregateStat.Sum | AggregateStat.Mean)) != 0)
            {
                sum += DiscreteLaplace.Sample(noise, metric.SumSensitivity / epsilon);
            }
            if ((stats & AggregateStat.Histogram) != 0)
            {
                for (var b = 0; b < histogram.Length; b++)
                {
                    histogram[b] += DiscreteLaplace.Sample(noise, 1 / epsilon);
                }
            }
        }
        if ((stats & AggregateStat.Count) != 0)
        {
            json.WriteNumber("count", count);
        }
        if ((stats & AggregateStat.Sum) != 0)
        {
            json.WriteNumber("sum", sum * metric.Resolution);
        }
        if ((stats & AggregateStat.Mean) != 0)
        {
            if (count > 0)
            {
                var mean = sum * metric.Resolution / count;
                json.WriteNumber("mean", metric.Low is { } low && metric.High is { } high ? Math.Clamp(mean, low, high) : mean);
            }
            else
            {
                json.WriteNull("mean");
            }
        }
        if ((stats & (AggregateStat.Min | AggregateStat.Max | AggregateStat.P50)) != 0)
        {
            // Exact order statistics, released only without noise (the policy rejects them with it).
            var sorted = new List<double>();
            foreach (var raw in values)
            {
                if (!double.IsNaN(raw))
                {
                    sorted.Add(Steps(metric, raw) * metric.Resolution);
                }
            }
            sorted.Sort();
            WriteOrder(json, "min", stats & AggregateStat.Min, sorted, 0);
            WriteOrder(json, "max", stats & AggregateStat.Max, sorted, sorted.Count - 1);
            WriteOrder(json, "p50", stats & AggregateStat.P50, sorted, (sorted.Count - 1) / 2);
        }
        if ((stats & AggregateStat.Histogram) != 0)
        {
            json.WriteStartObject("histogram");
            for (var b = 0; b < metric.HistogramValues.Count; b++)
            {
                json.WriteNumber(metric.HistogramValues[b].ToString("R", CultureInfo.InvariantCulture), histogram[b]);
            }
            json.WriteNumber("other", histogram[^1]);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    private static void WriteOrder(Utf8JsonWriter json, string name, AggregateStat asked, List<double> sorted, int index)
    {
        if (asked == AggregateStat.None)
        {
            return;
        }
        if (sorted.Count == 0)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteNumber(name, sorted[index]);
        }
    }

    /// <summary>The output topic of a group: the entry's template with each group capture's value.</summary>
    public static string Topic(StreamPurpose entry, AggregateRules rules, string groupKey)
    {
        var parts = groupKey.Split('\u001f');
        var levels = entry.Topic.Template.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            if (levels[i].Length >= 2 && levels[i][0] == '{' && levels[i][^1] == '}')
            {
                var g = rules.GroupBy.ToList().IndexOf(levels[i][1..^1]);
                levels[i] = g >= 0 ? parts[g] : levels[i];
            }
        }
        return string.Join('/', levels);
    }
}
