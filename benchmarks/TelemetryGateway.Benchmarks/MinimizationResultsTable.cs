using System.Globalization;
using System.Text;
using BenchmarkDotNet.Reports;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// The per-message table BenchmarkDotNet cannot produce on its own: throughput from the input size, cost per output
/// (a message fans out to one output per purpose) and the engine's targets: at most 2× the bare scan per output,
/// nothing allocated, at least 5× faster than the JSON node baseline. Printed after the run and written next to
/// BenchmarkDotNet's own reports.
/// </summary>
public static class MinimizationResultsTable
{
    private const string BareScan = nameof(JsonMinimizationBenchmarks.BareScan);
    private const string Engine = nameof(JsonMinimizationBenchmarks.Engine);
    private const string JsonNodeBaseline = nameof(JsonMinimizationBenchmarks.JsonNodeBaseline);

    public static void Report(Summary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var rows = Measure(summary);
        if (rows.Count == 0)
        {
            return;
        }
        // One table per job: a run with several jobs (say, --job Dry on top of the configured one) keeps them apart.
        var text = string.Join(Environment.NewLine, rows.GroupBy(row => row.Job).Select(job => Render(summary, job.Key, [.. job])));
        Console.WriteLine();
        Console.WriteLine(text);
        var path = Path.Combine(summary.ResultsDirectoryPath, "TelemetryGateway-minimization-table.md");
        File.WriteAllText(path, text);
        Console.WriteLine($"Table written to {path}");
    }

    private sealed record Row(string Job, TelemetryKind Kind, string Method, double MeanNs, long? AllocatedBytes);

    private static List<Row> Measure(Summary summary)
    {
        var rows = new List<Row>();
        foreach (var report in summary.Reports)
        {
            var benchmark = report.BenchmarkCase;
            if (report.ResultStatistics is null
                || benchmark.Descriptor.Type != typeof(JsonMinimizationBenchmarks)
                || benchmark.Parameters[nameof(JsonMinimizationBenchmarks.Kind)] is not TelemetryKind kind)
            {
                continue;
            }
            rows.Add(new Row(benchmark.Job.ResolvedId, kind, benchmark.Descriptor.WorkloadMethod.Name, report.ResultStatistics.Mean, report.GcStats.GetBytesAllocatedPerOperation(benchmark)));
        }
        return rows;
    }

    private static string Render(Summary summary, string job, List<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Job {job}:");
        foreach (var line in summary.HostEnvironmentInfo.ToFormattedString())
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"    {line}");
        }
        text.AppendLine();
        text.AppendLine("| Kind | Method | ns/msg (mean) | MB/s | B/op | Ratio vs BareScan | Outputs/msg | ns/output | Per output vs bare scan | Engine speed-up vs JsonNode |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var verdicts = new List<string>();
        foreach (var kind in Enum.GetValues<TelemetryKind>())
        {
            var message = CorpusMessages.Representative(kind);
            var outputs = OutputCount(message);
            var bare = rows.Find(row => row.Kind == kind && row.Method == BareScan);
            var engine = rows.Find(row => row.Kind == kind && row.Method == Engine);
            var jsonNode = rows.Find(row => row.Kind == kind && row.Method == JsonNodeBaseline);
            foreach (var row in new[] { bare, engine, jsonNode })
            {
                if (row is null)
                {
                    continue;
                }
                var producesOutputs = row.Method != BareScan;
                var perOutput = row.MeanNs / outputs;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {KindName(kind)} | {row.Method} | {row.MeanNs:N1} | {message.Payload.Length * 1e3 / row.MeanNs:N1} | {row.AllocatedBytes?.ToString("N0", CultureInfo.InvariantCulture) ?? "?"} | "
                    + $"{(bare is null ? "?" : (row.MeanNs / bare.MeanNs).ToString("N2", CultureInfo.InvariantCulture))} | "
                    + $"{(producesOutputs ? outputs.ToString(CultureInfo.InvariantCulture) : "–")} | "
                    + $"{(producesOutputs ? perOutput.ToString("N1", CultureInfo.InvariantCulture) : "–")} | "
                    + $"{(producesOutputs && bare is not null ? (perOutput / bare.MeanNs).ToString("N2", CultureInfo.InvariantCulture) : "–")} | "
                    + $"{(row.Method == Engine && jsonNode is not null ? (jsonNode.MeanNs / row.MeanNs).ToString("N1", CultureInfo.InvariantCulture) + "×" : "–")} |");
            }
            if (bare is not null && engine is not null && jsonNode is not null)
            {
                verdicts.Add(Verdict(kind, outputs, bare, engine, jsonNode));
            }
        }
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Input bytes per message: {string.Join(", ", Enum.GetValues<TelemetryKind>().Select(kind => $"{KindName(kind)} {CorpusMessages.Representative(kind).Payload.Length} B ({CorpusMessages.Representative(kind).Id})"))}. MB/s = input bytes / mean, 1 MB = 10^6 bytes.");
        text.AppendLine();
        foreach (var verdict in verdicts)
        {
            text.AppendLine(verdict);
        }
        return text.ToString();
    }

    private static string Verdict(TelemetryKind kind, int outputs, Row bare, Row engine, Row jsonNode)
    {
        var perOutput = engine.MeanNs / outputs / bare.MeanNs;
        var speedUp = jsonNode.MeanNs / engine.MeanNs;
        var missed = new List<string>();
        if (perOutput > 2)
        {
            missed.Add(string.Create(CultureInfo.InvariantCulture, $"per output {perOutput:N2}× the bare scan (target ≤ 2×)"));
        }
        if (engine.AllocatedBytes is not 0)
        {
            missed.Add(string.Create(CultureInfo.InvariantCulture, $"allocates {engine.AllocatedBytes?.ToString(CultureInfo.InvariantCulture) ?? "?"} B/op (target 0)"));
        }
        if (speedUp < 5)
        {
            missed.Add(string.Create(CultureInfo.InvariantCulture, $"{speedUp:N1}× faster than JsonNode (target ≥ 5×)"));
        }
        return missed.Count == 0
            ? $"- {KindName(kind)}: all targets met."
            : $"- {KindName(kind)}: MISSED: {string.Join("; ", missed)}.";
    }

    /// <summary>How many outputs (purposes) the engine produces for the message under the benchmarked policy.</summary>
    private static int OutputCount(CorpusMessage message)
    {
        using var minimizer = new Minimizer(BenchmarkAssets.Policy(), BenchmarkAssets.Key());
        return minimizer.Minimize(message.Topic, message.PayloadSequence).Outputs.Length;
    }

    private static string KindName(TelemetryKind kind) => kind.ToString().ToLowerInvariant();
}
