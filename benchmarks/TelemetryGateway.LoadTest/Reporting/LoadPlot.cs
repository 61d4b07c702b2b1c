using System.Globalization;
using System.Net;
using System.Text;
using TelemetryGateway.LoadTest.Scenarios;

namespace TelemetryGateway.LoadTest.Reporting;

/// <summary>
/// The report's picture, an SVG written by hand (no plotting library, nothing native): outputs received per second over
/// the run for each scenario, and each scenario's latency percentiles on a logarithmic axis.
/// </summary>
internal static class LoadPlot
{
    private const int Width = 960;
    private const int PanelHeight = 300;
    private const int Left = 70;
    private const int Right = 330;
    private const int Top = 40;

    private static readonly string[] Colors =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private static readonly double[] Percentiles = [50, 90, 99, 99.9, 100];

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(IReadOnlyList<ScenarioResult> results)
    {
        var svg = new StringBuilder();
        var height = (2 * PanelHeight) + (3 * Top) + 20;
        Append(svg, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"sans-serif\" font-size=\"12\">");
        Append(svg, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>");
        Throughput(svg, results, Top);
        Latency(svg, results, (2 * Top) + PanelHeight + 20);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Outputs received per second (per 100 ms bucket, scaled) against seconds since the devices' release.</summary>
    private static void Throughput(StringBuilder svg, IReadOnlyList<ScenarioResult> results, int top)
    {
        var plotWidth = Width - Left - Right;
        var perSecond = 1 / CloudSubscriber.BucketWidth.TotalSeconds;
        var buckets = Math.Max(1, results.Max(r => r.ArrivalsPerBucket.Length));
        var peak = Math.Max(1, results.SelectMany(r => r.ArrivalsPerBucket).DefaultIfEmpty(0).Max() * perSecond);
        var yMax = NiceCeiling(peak);
        var seconds = buckets * CloudSubscriber.BucketWidth.TotalSeconds;
        Append(svg, $"<text x=\"{Left}\" y=\"{top - 14}\" font-size=\"14\" font-weight=\"bold\">Outputs received per second over the run</text>");
        Axes(svg, top, plotWidth);
        for (var i = 0; i <= 4; i++)
        {
            var value = yMax * i / 4;
            var y = top + PanelHeight - (PanelHeight * i / 4.0);
            Append(svg, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Left + plotWidth}\" y2=\"{y:0.#}\" stroke=\"#e0e0e0\"/>");
            Append(svg, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{value:N0}</text>");
        }
        var step = NiceCeiling(seconds / 6);
        for (var t = 0.0; t <= seconds + 1e-9; t += step)
        {
            var x = Left + (plotWidth * t / seconds);
            Append(svg, $"<text x=\"{x:0.#}\" y=\"{top + PanelHeight + 16}\" text-anchor=\"middle\">{t:0.##} s</text>");
        }
        for (var s = 0; s < results.Count; s++)
        {
            var arrivals = results[s].ArrivalsPerBucket;
            if (arrivals.Length == 0)
            {
                continue;
            }
            var points = new StringBuilder();
            for (var b = 0; b < arrivals.Length; b++)
            {
                var x = Left + (plotWidth * (b + 0.5) / buckets);
                var y = top + PanelHeight - (PanelHeight * arrivals[b] * perSecond / yMax);
                points.Append(Invariant, $"{x:0.#},{y:0.#} ");
            }
            Append(svg, $"<polyline fill=\"none\" stroke=\"{Color(s)}\" stroke-width=\"1.5\" points=\"{points.ToString().TrimEnd()}\"/>");
        }
        Legend(svg, results, top);
    }

    /// <summary>p50, p90, p99, p99.9 and max of each scenario's output latency, log scale from 0.1 ms.</summary>
    private static void Latency(StringBuilder svg, IReadOnlyList<ScenarioResult> results, int top)
    {
        var plotWidth = Width - Left - Right;
        Append(svg, $"<text x=\"{Left}\" y=\"{top - 14}\" font-size=\"14\" font-weight=\"bold\">Latency percentiles, ms, log scale: device ts → cloud subscriber (solid), publish → PUBACK at window 1 (dashed)</text>");
        Axes(svg, top, plotWidth);
        var maxMs = Math.Max(1, results.Select(r => Math.Max(r.LatencyMs(100) ?? 0, r.RoundTripMs(100) ?? 0)).DefaultIfEmpty(1).Max());
        const double minMs = 0.1;
        var decades = Math.Max(1, (int)Math.Ceiling(Math.Log10(maxMs / minMs)));
        double Y(double ms) => top + PanelHeight - (PanelHeight * Math.Log10(Math.Max(ms, minMs) / minMs) / decades);
        for (var d = 0; d <= decades; d++)
        {
            var ms = minMs * Math.Pow(10, d);
            var y = Y(ms);
            Append(svg, $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Left + plotWidth}\" y2=\"{y:0.#}\" stroke=\"#e0e0e0\"/>");
            Append(svg, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{ms:0.###}</text>");
        }
        for (var p = 0; p < Percentiles.Length; p++)
        {
            var x = Left + (plotWidth * (p + 0.5) / Percentiles.Length);
            var label = Percentiles[p] == 100 ? "max" : $"p{Percentiles[p]:0.#}";
            Append(svg, $"<text x=\"{x:0.#}\" y=\"{top + PanelHeight + 16}\" text-anchor=\"middle\">{label}</text>");
        }
        for (var s = 0; s < results.Count; s++)
        {
            Percentile(svg, results[s].LatencyMs, s, Label(results[s]), dashed: false, Y, plotWidth);
            Percentile(svg, results[s].RoundTripMs, s, Label(results[s]) + ", round trip", dashed: true, Y, plotWidth);
        }
        Legend(svg, results, top);
    }

    private static void Percentile(StringBuilder svg, Func<double, double?> latencyMs, int series, string label, bool dashed, Func<double, double> y, int plotWidth)
    {
        var points = new StringBuilder();
        for (var p = 0; p < Percentiles.Length; p++)
        {
            if (latencyMs(Percentiles[p]) is not { } ms)
            {
                continue;
            }
            var x = Left + (plotWidth * (p + 0.5) / Percentiles.Length);
            points.Append(Invariant, $"{x:0.#},{y(ms):0.#} ");
            Append(svg, $"<circle cx=\"{x:0.#}\" cy=\"{y(ms):0.#}\" r=\"3\" fill=\"{Color(series)}\"><title>{Escape(label)}: {ms:0.##} ms</title></circle>");
        }
        if (points.Length > 0)
        {
            var dash = dashed ? " stroke-dasharray=\"5,4\"" : "";
            Append(svg, $"<polyline fill=\"none\" stroke=\"{Color(series)}\" stroke-width=\"1.5\"{dash} points=\"{points.ToString().TrimEnd()}\"/>");
        }
    }

    private static void Axes(StringBuilder svg, int top, int plotWidth)
    {
        Append(svg, $"<line x1=\"{Left}\" y1=\"{top}\" x2=\"{Left}\" y2=\"{top + PanelHeight}\" stroke=\"black\"/>");
        Append(svg, $"<line x1=\"{Left}\" y1=\"{top + PanelHeight}\" x2=\"{Left + plotWidth}\" y2=\"{top + PanelHeight}\" stroke=\"black\"/>");
    }

    private static void Legend(StringBuilder svg, IReadOnlyList<ScenarioResult> results, int top)
    {
        var x = Width - Right + 16;
        for (var s = 0; s < results.Count; s++)
        {
            var y = top + 10 + (s * 18);
            Append(svg, $"<rect x=\"{x}\" y=\"{y - 9}\" width=\"12\" height=\"10\" fill=\"{Color(s)}\"/>");
            Append(svg, $"<text x=\"{x + 18}\" y=\"{y}\">{Escape(Label(results[s]))}</text>");
        }
    }

    private static string Label(ScenarioResult r) =>
        string.Create(Invariant, $"{(r.Kind switch { ScenarioKind.Baseline => "bridge", ScenarioKind.GatewayBatch => "gateway-batch", _ => r.Kind.ToString().ToLowerInvariant() })}, {(r.Brokers == BrokerTuning.Tuned ? "tuned" : "default")} brokers, QoS {r.Qos}");

    private static string Color(int index) => Colors[index % Colors.Length];

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="value"/>.</summary>
    private static double NiceCeiling(double value)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (step * power >= value)
            {
                return step * power;
            }
        }
        return 10 * power;
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static void Append(StringBuilder svg, string line) => svg.Append(line).Append('\n');
}
