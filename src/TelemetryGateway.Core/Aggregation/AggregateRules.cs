using System.Globalization;
using System.Text.Json;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>The statistics an aggregate purpose entry may release for one metric.</summary>
[Flags]
public enum AggregateStat
{
    None = 0,
    Count = 1,
    Sum = 2,
    Mean = 4,
    Min = 8,
    Max = 16,
    P50 = 32,
    Histogram = 64,
}

/// <summary>One metric of an aggregate: a numeric field of the payload (as its format names it), its statistics and bounds.</summary>
public sealed class AggregateMetric
{
    internal AggregateMetric(string field, AggregateStat stats, double? low, double? high, double resolution, double[] values)
    {
        Field = field;
        Stats = stats;
        Low = low;
        High = high;
        Resolution = resolution;
        HistogramValues = values;
    }

    public string Field { get; }
    public AggregateStat Stats { get; }

    /// <summary>The clipping bounds: a device's value is clamped to them before it counts (null: not clipped; only without noise).</summary>
    public double? Low { get; }
    public double? High { get; }

    /// <summary>The granularity values are counted in (sums are sums of whole multiples of it, so noise is an integer).</summary>
    public double Resolution { get; }

    /// <summary>The values a <see cref="AggregateStat.Histogram"/> counts; any other value is counted as <c>other</c>.</summary>
    public IReadOnlyList<double> HistogramValues { get; }

    /// <summary>
    /// The most one device changes this metric's sum, in units of <see cref="Resolution"/>: the larger magnitude of the
    /// clipping bounds (adding or removing one device, who contributes one clipped value).
    /// </summary>
    public long SumSensitivity => (long)Math.Max(Math.Abs(Math.Round(Low!.Value / Resolution)), Math.Abs(Math.Round(High!.Value / Resolution)));
}

/// <summary>
/// The compiled <c>aggregate</c> of a purpose entry (issue 18): tumbling windows on the gateway's clock, the groups,
/// the k of suppression, the metrics and the optional differential-privacy noise. The entry produces no per-message
/// output; its messages are folded into a <see cref="WindowAggregator"/> and released once per window and group.
/// </summary>
public sealed class AggregateRules : IFormatRules
{
    internal AggregateRules(
        TimeSpan window, string windowText, string[] groupBy, int[] groupCaptures, int minDevices, int maxGroups, int maxDevices,
        AggregateMetric[] metrics, double? epsilon)
    {
        Window = window;
        WindowText = windowText;
        GroupBy = groupBy;
        GroupCaptures = groupCaptures;
        MinDevices = minDevices;
        MaxGroups = maxGroups;
        MaxDevices = maxDevices;
        MetricArray = metrics;
        Epsilon = epsilon;
        var queries = 1;
        foreach (var metric in metrics)
        {
            queries += (metric.Stats & (AggregateStat.Count | AggregateStat.Mean)) != 0 ? 1 : 0;
            queries += (metric.Stats & (AggregateStat.Sum | AggregateStat.Mean)) != 0 ? 1 : 0;
            queries += (metric.Stats & AggregateStat.Histogram) != 0 ? 1 : 0;
        }
        NoisedQueries = queries;
    }

    /// <summary>
    /// Binds these rules to the union of their stream's aggregate fields: per metric and per payload group, its index
    /// in <paramref name="fields"/> (what one scan of a message fills for every aggregate entry of the stream).
    /// </summary>
    internal void Bind(AggregateFieldSet fields)
    {
        MetricSlots = Array.ConvertAll(MetricArray, m => Array.IndexOf(fields.Metrics, m.Field));
        GroupSlots = [.. GroupBy.Select((name, i) => GroupCaptures[i] >= 0 ? -1 : Array.IndexOf(fields.Groups, name))];
    }

    /// <summary>Per metric, its index in the stream's <see cref="AggregateFieldSet"/>.</summary>
    internal int[] MetricSlots { get; private set; } = [];

    /// <summary>Per <see cref="GroupBy"/> entry that is a payload field, its index in the stream's <see cref="AggregateFieldSet"/> (-1 for a capture).</summary>
    internal int[] GroupSlots { get; private set; } = [];

    public TimeSpan Window { get; }

    /// <summary>The window as the policy writes it (ISO-8601 duration), for the <c>window</c> tag.</summary>
    public string WindowText { get; }

    /// <summary>What groups are keyed by: topic captures or categorical payload fields, in policy order.</summary>
    public IReadOnlyList<string> GroupBy { get; }

    /// <summary>Per <see cref="GroupBy"/> entry, the capture index it reads, or -1 for a payload field.</summary>
    internal int[] GroupCaptures { get; }

    /// <summary>k: a group with fewer distinct devices in a window is not released.</summary>
    public int MinDevices { get; }

    /// <summary>Groups one window keeps; a message of a further group is counted as overflow and not folded.</summary>
    public int MaxGroups { get; }

    /// <summary>Distinct devices one window keeps, over all its groups; further ones are counted as overflow.</summary>
    public int MaxDevices { get; }

    public IReadOnlyList<AggregateMetric> Metrics => MetricArray;
    internal AggregateMetric[] MetricArray { get; }

    /// <summary>The privacy budget of one window and group (null: no noise, k-suppression only).</summary>
    public double? Epsilon { get; }

    /// <summary>
    /// Noised releases per group and window: the device count (it decides suppression), and per metric its count, its
    /// sum and its histogram when asked for (a mean is the noised sum over the noised count). Each gets
    /// <see cref="Epsilon"/> / this (sequential composition).
    /// </summary>
    public int NoisedQueries { get; }

    public double EpsilonPerQuery => Epsilon is { } epsilon ? epsilon / NoisedQueries : 0;

    /// <summary>The epsilon tag's text: the budget per window and group, or <c>none</c>.</summary>
    public string EpsilonText => Epsilon is { } epsilon ? epsilon.ToString("R", CultureInfo.InvariantCulture) : "none";
}

/// <summary>Reads and validates an entry's <c>aggregate</c>; every error is reported with its path.</summary>
internal static class AggregateRulesCompiler
{
    // A field of one of these names identifies a device (or its owner's network): never a group.
    private static readonly HashSet<string> s_deviceIdentifyingFields = new(StringComparer.OrdinalIgnoreCase)
    {
        "sn", "serial", "serial_number", "serialnumber", "device_sn", "device_id", "deviceid", "id", "uuid", "mac",
        "mac_address", "imei", "ip", "ip_address", "wifi_name", "ssid", "bssid", "user", "user_id", "username", "email",
        "account", "owner", "latitude", "longitude", "location", "geohash",
    };

    private static readonly (string Id, AggregateStat Stat)[] s_stats =
    [
        ("count", AggregateStat.Count), ("sum", AggregateStat.Sum), ("mean", AggregateStat.Mean), ("min", AggregateStat.Min),
        ("max", AggregateStat.Max), ("p50", AggregateStat.P50), ("histogram", AggregateStat.Histogram),
    ];

    public const int MaxMetrics = 32;
    public const int MaxHistogramValues = 64;

    public static AggregateRules? Compile(
        PolicyReader reader, JsonElement element, string path, PayloadFormat format, FormatRulesCompiler fields, TopicFilter? filter, int deviceCapture)
    {
        var errorsBefore = reader.ErrorCount;
        if (!fields.ReadsAggregates)
        {
            var readable = string.Join(", ", PayloadFormats.All.ToArray().Where(r => r.Rules.ReadsAggregates).Select(r => r.Id));
            reader.Error(path, $"aggregates read {readable} payloads; this stream's format is '{format.Id()}'");
            return null;
        }
        if (!reader.ExpectKind(element, path, JsonValueKind.Object))
        {
            return null;
        }
        reader.CheckProperties(element, path, "window", "groupBy", "minDevices", "maxGroups", "maxDevices", "metrics", "noise");
        var windowText = reader.RequiredString(element, path, "window");
        var window = TimeSpan.Zero;
        if (windowText is not null && (!PolicyCompiler.Compiler.TryParseRetention(windowText, out window) || window < TimeSpan.FromSeconds(1) || window > TimeSpan.FromDays(31)))
        {
            reader.Error(PolicyReader.Child(path, "window"), $"'{windowText}' is not an ISO-8601 duration between one second and 31 days, such as PT1H");
        }
        var minDevices = reader.OptionalInt(element, path, "minDevices", 10, 2, 1_000_000);
        if (!element.TryGetProperty("minDevices", out _))
        {
            reader.Error(PolicyReader.Child(path, "minDevices"), "is required: k, the fewest distinct devices a released group has (at least 2)");
        }
        var maxGroups = reader.OptionalInt(element, path, "maxGroups", 1000, 1, 100_000);
        var maxDevices = reader.OptionalInt(element, path, "maxDevices", 100_000, 2, 10_000_000);
        double? epsilon = null;
        if (element.TryGetProperty("noise", out var noise) && reader.ExpectKind(noise, PolicyReader.Child(path, "noise"), JsonValueKind.Object))
        {
            var noisePath = PolicyReader.Child(path, "noise");
            reader.CheckProperties(noise, noisePath, "epsilon");
            if (!noise.TryGetProperty("epsilon", out var epsilonElement) || epsilonElement.ValueKind != JsonValueKind.Number)
            {
                reader.Error(PolicyReader.Child(noisePath, "epsilon"), "is required: a number in (0, 10]");
            }
            else if (epsilonElement.GetDouble() is var value && !(value > 0 && value <= 10))
            {
                reader.Error(PolicyReader.Child(noisePath, "epsilon"), "must be in (0, 10]");
            }
            else
            {
                epsilon = epsilonElement.GetDouble();
            }
        }
        var noised = element.TryGetProperty("noise", out _);
        var (groupBy, groupCaptures) = CompileGroupBy(reader, element, path, fields, filter, deviceCapture);
        var metrics = CompileMetrics(reader, element, path, fields, noised, groupBy);
        return reader.ErrorCount > errorsBefore || windowText is null
            ? null
            : new AggregateRules(window, windowText, groupBy, groupCaptures, minDevices, maxGroups, maxDevices, metrics, epsilon);
    }

    /// <summary>True when <paramref name="name"/> (a field path: each of its dot-separated parts) names a device or owner identifier.</summary>
    private static bool Identifies(string name) => name.Split('.').Any(s_deviceIdentifyingFields.Contains);

    private static (string[] Names, int[] Captures) CompileGroupBy(
        PolicyReader reader, JsonElement element, string path, FormatRulesCompiler fields, TopicFilter? filter, int deviceCapture)
    {
        var names = new List<string>();
        var captures = new List<int>();
        if (!element.TryGetProperty("groupBy", out var groupBy))
        {
            return ([], []);
        }
        var groupPath = PolicyReader.Child(path, "groupBy");
        if (!reader.ExpectKind(groupBy, groupPath, JsonValueKind.Array))
        {
            return ([], []);
        }
        var i = 0;
        foreach (var item in groupBy.EnumerateArray())
        {
            var itemPath = $"{groupPath}[{i++}]";
            if (!reader.ExpectKind(item, itemPath, JsonValueKind.String))
            {
                continue;
            }
            var name = item.GetString()!;
            var capture = filter?.CaptureIndex(name) ?? -1;
            if (capture >= 0 && capture == deviceCapture)
            {
                reader.Error(itemPath, $"'{name}' is the stream's device capture: a group per device is not an aggregate");
                continue;
            }
            if (capture < 0 && Identifies(name))
            {
                reader.Error(itemPath, $"'{name}' identifies a device or its owner: it cannot group an anonymous aggregate");
                continue;
            }
            if (name.Length == 0 || !PolicyReader.IsIdentifier(name) || names.Contains(name))
            {
                reader.Error(itemPath, $"'{name}' must be a capture of the topic filter or a payload field, named once");
                continue;
            }
            if (capture < 0 && fields.CheckAggregateField(name, AggregateFieldUse.Group) is { } unusable)
            {
                reader.Error(itemPath, unusable);
                continue;
            }
            names.Add(name);
            captures.Add(capture);
        }
        if (names.Count > 4)
        {
            reader.Error(groupPath, "groups by at most 4 values");
        }
        return ([.. names], [.. captures]);
    }

    private static AggregateMetric[] CompileMetrics(PolicyReader reader, JsonElement element, string path, FormatRulesCompiler fields, bool noised, string[] groupBy)
    {
        var metricsPath = PolicyReader.Child(path, "metrics");
        if (!element.TryGetProperty("metrics", out var metricsElement))
        {
            reader.Error(metricsPath, "is required");
            return [];
        }
        if (!reader.ExpectKind(metricsElement, metricsPath, JsonValueKind.Object))
        {
            return [];
        }
        var metrics = new List<AggregateMetric>();
        foreach (var property in metricsElement.EnumerateObject())
        {
            var metricPath = PolicyReader.Child(metricsPath, property.Name);
            if (property.Name.Length == 0 || !PolicyReader.IsIdentifier(property.Name) || Identifies(property.Name) || groupBy.Contains(property.Name))
            {
                reader.Error(metricPath, "a metric is a numeric field of the payload, neither a device identifier nor a group");
                continue;
            }
            if (fields.CheckAggregateField(property.Name, AggregateFieldUse.Metric) is { } unusable)
            {
                reader.Error(metricPath, unusable);
                continue;
            }
            if (!reader.ExpectKind(property.Value, metricPath, JsonValueKind.Object))
            {
                continue;
            }
            var metric = CompileMetric(reader, property.Name, property.Value, metricPath, noised);
            if (metric is not null)
            {
                metrics.Add(metric);
            }
        }
        if (!metricsElement.EnumerateObject().Any())
        {
            reader.Error(metricsPath, "names no metric");
        }
        if (metrics.Count > MaxMetrics)
        {
            reader.Error(metricsPath, $"names more than {MaxMetrics} metrics");
        }
        return [.. metrics];
    }

    private static AggregateMetric? CompileMetric(PolicyReader reader, string name, JsonElement element, string path, bool noised)
    {
        var before = reader.ErrorCount;
        reader.CheckProperties(element, path, "stats", "clip", "resolution", "values");
        var stats = AggregateStat.None;
        var statsPath = PolicyReader.Child(path, "stats");
        if (!element.TryGetProperty("stats", out var statsElement))
        {
            reader.Error(statsPath, "is required");
        }
        else if (reader.ExpectKind(statsElement, statsPath, JsonValueKind.Array))
        {
            var i = 0;
            foreach (var item in statsElement.EnumerateArray())
            {
                var itemPath = $"{statsPath}[{i++}]";
                var id = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                var stat = Array.Find(s_stats, s => s.Id == id).Stat;
                if (stat == AggregateStat.None)
                {
                    reader.Error(itemPath, $"unknown statistic; known: {string.Join(", ", s_stats.Select(s => s.Id))}");
                    continue;
                }
                if (noised && stat is AggregateStat.Min or AggregateStat.Max or AggregateStat.P50)
                {
                    reader.Error(itemPath, $"'{id}' cannot be released with noise (one device can move it by the whole range); use a histogram");
                    continue;
                }
                stats |= stat;
            }
        }
        double? low = null, high = null;
        var clipPath = PolicyReader.Child(path, "clip");
        if (element.TryGetProperty("clip", out var clip))
        {
            if (clip.ValueKind != JsonValueKind.Array || clip.GetArrayLength() != 2 || clip[0].ValueKind != JsonValueKind.Number
                || clip[1].ValueKind != JsonValueKind.Number || !(clip[0].GetDouble() < clip[1].GetDouble())
                || !double.IsFinite(clip[0].GetDouble()) || !double.IsFinite(clip[1].GetDouble()))
            {
                reader.Error(clipPath, "must be [low, high] with low < high");
            }
            else
            {
                low = clip[0].GetDouble();
                high = clip[1].GetDouble();
            }
        }
        else if (noised && (stats & ~AggregateStat.Histogram) != 0)
        {
            reader.Error(clipPath, "is required with noise: the bounds decide how much one device can change a released value");
        }
        var resolution = low is { } l && high is { } h ? (h - l) / 1000 : 1;
        if (element.TryGetProperty("resolution", out var resolutionElement))
        {
            if (resolutionElement.ValueKind != JsonValueKind.Number || !(resolutionElement.GetDouble() > 0) || !double.IsFinite(resolutionElement.GetDouble()))
            {
                reader.Error(PolicyReader.Child(path, "resolution"), "must be a positive number");
            }
            else
            {
                resolution = resolutionElement.GetDouble();
                if (low is { } lo && high is { } hi && (hi - lo) / resolution > 1e9)
                {
                    reader.Error(PolicyReader.Child(path, "resolution"), "is too fine for the clipping range (at most 1e9 steps)");
                }
            }
        }
        var values = new List<double>();
        var valuesPath = PolicyReader.Child(path, "values");
        if (element.TryGetProperty("values", out var valuesElement))
        {
            if (valuesElement.ValueKind != JsonValueKind.Array || valuesElement.GetArrayLength() is 0 or > MaxHistogramValues
                || valuesElement.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
            {
                reader.Error(valuesPath, $"must be 1 to {MaxHistogramValues} numbers");
            }
            else
            {
                values.AddRange(valuesElement.EnumerateArray().Select(v => v.GetDouble()));
                if (values.Distinct().Count() != values.Count)
                {
                    reader.Error(valuesPath, "names a value twice");
                }
            }
        }
        if ((stats & AggregateStat.Histogram) != 0 && values.Count == 0)
        {
            reader.Error(valuesPath, "is required for a histogram: the values it counts (fixed in the policy, so the data do not choose the bins)");
        }
        else if ((stats & AggregateStat.Histogram) == 0 && values.Count > 0)
        {
            reader.Error(valuesPath, "applies to a histogram only");
        }
        return reader.ErrorCount > before ? null : new AggregateMetric(name, stats, low, high, resolution, [.. values]);
    }
}
