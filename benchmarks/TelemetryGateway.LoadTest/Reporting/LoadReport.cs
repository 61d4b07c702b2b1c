using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using TelemetryGateway.LoadTest.Processes;
using TelemetryGateway.LoadTest.Scenarios;

namespace TelemetryGateway.LoadTest.Reporting;

/// <summary>The markdown report: header with command and machine, one row per scenario run, gateway/baseline ratios and targets.</summary>
internal static class LoadReport
{
    /// <summary>Gateway QoS 1 end-to-end throughput must be at least this multiple of the bridge's.</summary>
    public const double ThroughputTarget = 1.0;

    /// <summary>Gateway QoS 1 p99 latency must be at most this multiple of the bridge's.</summary>
    public const double P99Target = 2.0;

    /// <summary>Resident memory per idle connection the gateway may grow by, bytes.</summary>
    public const double BytesPerConnectionTarget = 20 * 1024;

    /// <summary>Throughput with the idle devices connected, at least this fraction of the throughput without.</summary>
    public const double IdleThroughputTarget = 0.9;

    /// <summary>One message at a time (window 1): the gateway's rate behind default brokers must be at least this multiple of its rate behind tuned ones.</summary>
    public const double DefaultBrokerRateTarget = 0.9;

    /// <summary>One message at a time (window 1): the p99 of the device's publish → PUBACK round trip through the gateway, ms.</summary>
    public const double RoundTripP99TargetMs = 5.0;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(
        LoadTestOptions options, MachineFacts machine, IReadOnlyList<ScenarioResult> results,
        IReadOnlyDictionary<string, IReadOnlyList<string>> setups, string? abortReason)
    {
        var report = new StringBuilder();
        Line(report, "# TelemetryGateway load benchmark");
        Line(report);
        Line(report, $"- Command: `dotnet run -c Release --project benchmarks/TelemetryGateway.LoadTest --{(options.CommandLine.Length > 0 ? " " + options.CommandLine : "")}`");
        Line(report, $"- Machine: {machine.Cores} cores ({machine.Cpu}), {machine.OperatingSystem}, {machine.Runtime}, {machine.MosquittoVersion}");
        Line(report, $"- Started: {machine.StartedAt:yyyy-MM-dd HH:mm:ss} UTC; load average (1, 5, 15 min) at start {machine.LoadAverageAtStart}, at the end {MachineFacts.LoadAverage()}");
        var pace = options.RatePerDevice > 0 ? $"{options.RatePerDevice:0.##} msg/s each" : "unpaced (as fast as the window allows)";
        Line(report, $"- Load: {options.Devices} devices × {options.MessagesPerDevice} status messages, {pace}; QoS 1 window {options.Window} per device; cloud subscriber at QoS 1");
        Line(report, $"- Fresh brokers (and gateway) per run; {options.WarmUpMessages} unmeasured warm-up messages first, sent by the devices as they publish in the run. Bounds: {options.DurationLimit.TotalSeconds:0} s per run, drain until no output for {options.DrainTimeout.TotalSeconds:0} s");
        Line(report, $"- Brokers: {string.Join(" and ", options.Brokers.Select(Name))} (every scenario runs behind each)");
        if (options.IdleDevices > 0)
        {
            Line(report, $"- Idle devices: {options.IdleDevices} connected (MQTT 3.1.1, keep-alive 0) before the devices and held through the run; every scenario also runs without them. Open-file limit: {FileDescriptorLimit.Current}");
        }
        Line(report, $"- Plot: [{Path.GetFileName(PlotPath(options))}]({Path.GetFileName(PlotPath(options))}) (outputs per second over each run, latency percentiles)");
        Line(report, "- Everything shares the same cores: compare the ratios within this report, not absolute numbers across runs.");
        if (abortReason is not null)
        {
            Line(report);
            Line(report, $"**Run aborted:** {abortReason}");
        }
        Line(report);
        Line(report, "| scenario | brokers | QoS | messages in | in/s | outputs expected | outputs delivered | outputs/s | delivered msg/s | p50 ms | p99 ms | max ms | lost | duplicates |");
        Line(report, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            Line(report, $"| {Name(r.Kind)}{Idle(r)} | {Name(r.Brokers)} | {r.Qos} | {r.MessagesIn}/{r.MessagesPlanned} | {r.MessagesInPerSecond:N0} | {r.OutputsExpected} | {r.OutputsReceived} | {r.OutputsPerSecond:N0} | {r.DeliveredMessagesPerSecond:N0} | {Ms(r.LatencyMs(50))} | {Ms(r.LatencyMs(99))} | {Ms(r.LatencyMs(100))} | {r.Lost} | {r.Duplicates} |");
        }
        Line(report);
        Line(report, "messages in/s: device publishes completed (PUBACK received at QoS 1; at QoS 0 merely written to the socket, so unpaced it is the kernel's buffering, not a capacity) per second of publishing. "
            + "outputs/s and delivered msg/s: outputs received by the cloud subscriber, and the device messages they stand for, per second until the last one arrived. "
            + "Latency: receive time − the `ts` the device stamped, over every output received. Lost: expected outputs − distinct outputs received.");

        Line(report);
        Line(report, "CPU time per device message delivered (µs, user + system, all threads, from the devices' release to the end of the drain):");
        Line(report);
        Line(report, "| scenario | brokers | QoS | relay (gateway or site mosquitto) | cloud mosquitto | relay + cloud | devices + subscriber (this process) |");
        Line(report, "|---|---|---|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            var relay = r.CpuMicrosPerMessage(CpuRole.Relay);
            var cloud = r.CpuMicrosPerMessage(CpuRole.CloudBroker);
            Line(report, $"| {Name(r.Kind)}{Idle(r)} | {Name(r.Brokers)} | {r.Qos} | {Us(relay)} | {Us(cloud)} | {Us(relay + cloud)} | {Us(r.CpuMicrosPerMessage(CpuRole.Generator))} |");
        }
        Line(report);
        Line(report, "CPU time per output delivered (µs; the bridge's output is its one forwarded message), and outputs per publish the cloud subscriber received (a gateway batch is one publish):");
        Line(report);
        Line(report, "| scenario | brokers | QoS | outputs/s | outputs per cloud publish | relay µs/output | cloud mosquitto µs/output |");
        Line(report, "|---|---|---|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            var perPublish = r.OutputsPerPublish is { } n ? n.ToString("0.0", Invariant) : "–";
            Line(report, $"| {Name(r.Kind)}{Idle(r)} | {Name(r.Brokers)} | {r.Qos} | {r.OutputsPerSecond:N0} | {perPublish} | {Us(r.CpuMicrosPerOutput(CpuRole.Relay))} | {Us(r.CpuMicrosPerOutput(CpuRole.CloudBroker))} |");
        }

        var workers = results.Where(r => r.Kind == ScenarioKind.Workers).ToArray();
        if (workers.Length > 0)
        {
            Line(report);
            Line(report, "## Workers on a RabbitMQ cluster");
            Line(report);
            Line(report, "Devices publish to one node's MQTT plugin; the quorum queue (replicated on the 3 nodes) is consumed by N workers (ingress mode amqp, prefetch 64), which publish to the cloud mosquitto. CPU time per device message delivered (µs):");
            Line(report);
            Line(report, "| workers | QoS | delivered msg/s | workers (one message, in whichever worker took it) | each worker's CPU s | RabbitMQ cluster (3 nodes) | cloud mosquitto | devices + subscriber |");
            Line(report, "|---:|---:|---:|---:|---|---:|---:|---:|");
            foreach (var r in workers)
            {
                var each = string.Join(" / ", r.WorkerCpu.Select(c => c.TotalSeconds.ToString("0.00", Invariant)));
                Line(report, $"| {r.Workers} | {r.Qos} | {r.DeliveredMessagesPerSecond:N0} | {Us(r.CpuMicrosPerMessage(CpuRole.Relay))} | {each} | {Us(r.CpuMicrosPerMessage(CpuRole.Cluster))} | {Us(r.CpuMicrosPerMessage(CpuRole.CloudBroker))} | {Us(r.CpuMicrosPerMessage(CpuRole.Generator))} |");
            }
            Line(report);
            Line(report, "workers: the CPU time of all workers together per message delivered; each message is processed by one worker, so this is what a message costs in a worker, whichever took it. Each worker's CPU seconds over the run show how evenly the queue dealt the messages. All processes share this machine's cores, so more workers cannot add capacity beyond them.");
        }

        var notes = results.Where(r => r.Notes.Count > 0).ToArray();
        if (notes.Length > 0)
        {
            Line(report);
            Line(report, "Notes:");
            foreach (var r in notes)
            {
                foreach (var note in r.Notes)
                {
                    Line(report, $"- {Name(r.Kind)}, {Name(r.Brokers)}, QoS {r.Qos}: {note.ReplaceLineEndings(" ")}");
                }
            }
        }

        var comparisons = Compare(results);
        if (comparisons.Count > 0)
        {
            Line(report);
            Line(report, "## Gateway / baseline");
            Line(report);
            Line(report, "| scenario | brokers | QoS | messages in/s | delivered msg/s | target | p99 latency | target | lost (gateway) | target |");
            Line(report, "|---|---|---|---:|---:|---|---:|---|---:|---|");
            var paced = options.RatePerDevice > 0;
            foreach (var c in comparisons)
            {
                var applies = c.Qos == 1;
                var throughputTarget = paced ? "n/a (paced run)" : Target(applies, c.ThroughputMet, $"≥ {ThroughputTarget:0.0}×");
                Line(report, $"| {Name(c.Kind)} | {Name(c.Brokers)} | {c.Qos} | {c.InRatio:0.00}× | {c.ThroughputRatio:0.00}× | {throughputTarget} | {c.P99Ratio:0.00}× | {Target(applies, c.P99Met, $"≤ {P99Target:0.0}×")} | {c.GatewayLost} | {Target(applies, c.LostMet, "0")} |");
            }
            Line(report);
            Line(report, "Targets apply to QoS 1 (at least once end to end); QoS 0 is shown for information. "
                + (paced
                    ? "This run is paced (--rate-per-device), so throughput is set by the rate and only latency and loss are compared."
                    : "Unpaced, latency is mostly queueing: a device keeps its window full, so the p99 says how deep each side lets work pile up "
                        + "(the bridge acknowledges devices at once and queues for the cloud; the gateway acknowledges after the upstream or its outbox). "
                        + "Run with --rate-per-device for latency at a fixed load."));
        }

        RenderOneAtATime(report, options, results);
        RenderIdleDevices(report, results);

        if (setups.Count > 0)
        {
            Line(report);
            Line(report, "## Setup");
            foreach (var (name, description) in setups)
            {
                Line(report);
                Line(report, $"{name}:");
                Line(report);
                foreach (var item in description)
                {
                    Line(report, $"- {item}");
                }
            }
        }
        return report.ToString();
    }

    /// <summary>The SVG plot, next to the report: same name, <c>.svg</c>.</summary>
    public static string PlotPath(LoadTestOptions options) => Path.ChangeExtension(options.ReportPath, ".svg");

    /// <summary>The QoS 1 comparisons that miss a target (empty when there is no comparison).</summary>
    public static IReadOnlyList<string> MissedTargets(LoadTestOptions options, IReadOnlyList<ScenarioResult> results)
    {
        var missed = new List<string>();
        foreach (var c in Compare(results).Where(c => c.Qos == 1))
        {
            if (!c.ThroughputMet && options.RatePerDevice <= 0)
            {
                missed.Add(string.Create(Invariant, $"{Name(c.Kind)}, QoS 1 throughput {c.ThroughputRatio:0.00}× the bridge's (target ≥ {ThroughputTarget:0.0}×)"));
            }
            if (!c.P99Met)
            {
                missed.Add(string.Create(Invariant, $"{Name(c.Kind)}, QoS 1 p99 {c.P99Ratio:0.00}× the bridge's (target ≤ {P99Target:0.0}×)"));
            }
            if (!c.LostMet)
            {
                missed.Add(string.Create(Invariant, $"{Name(c.Kind)}, QoS 1 lost {c.GatewayLost} outputs (target 0)"));
            }
        }
        if (options.Window == 1)
        {
            foreach (var r in results.Where(r => r.Kind == ScenarioKind.Gateway && r.Qos == 1))
            {
                if (!(r.RoundTripMs(99) < RoundTripP99TargetMs))
                {
                    missed.Add(string.Create(Invariant, $"one at a time, {Name(r.Brokers)}: p99 round trip {Ms(r.RoundTripMs(99))} ms (target < {RoundTripP99TargetMs:0} ms)"));
                }
            }
            if (DefaultOverTuned(results, ScenarioKind.Gateway) is { } ratio && !(ratio >= DefaultBrokerRateTarget))
            {
                missed.Add(string.Create(Invariant, $"one at a time: rate behind default brokers {ratio:0.00}× the rate behind tuned ones (target ≥ {DefaultBrokerRateTarget:0.0}×)"));
            }
        }
        return missed;
    }

    public static string Summary(ScenarioResult r) => string.Create(Invariant,
        $"  {Name(r.Kind)}, {Name(r.Brokers)}, QoS {r.Qos}: in {r.MessagesInPerSecond:N0}/s, delivered {r.DeliveredMessagesPerSecond:N0} msg/s ({r.OutputsReceived}/{r.OutputsExpected} outputs), p50 {Ms(r.LatencyMs(50))} ms, p99 {Ms(r.LatencyMs(99))} ms, lost {r.Lost}")
        + (r.RoundTripsMicros.Length > 0 ? string.Create(Invariant, $", round trip p50 {Ms(r.RoundTripMs(50))} ms p99 {Ms(r.RoundTripMs(99))} ms") : "");

    public static string Name(BrokerTuning brokers) => brokers switch
    {
        BrokerTuning.Default => "default mosquitto",
        BrokerTuning.Tuned => "tuned mosquitto (set_tcp_nodelay)",
        _ => brokers.ToString(),
    };

    /// <summary>
    /// One message at a time (window 1): the round trip per message as the device sees it, and each scenario's rate
    /// behind default brokers over its rate behind tuned ones.
    /// </summary>
    private static void RenderOneAtATime(StringBuilder report, LoadTestOptions options, IReadOnlyList<ScenarioResult> results)
    {
        var measured = results.Where(r => r.RoundTripsMicros.Length > 0).ToArray();
        if (measured.Length == 0)
        {
            return;
        }
        Line(report);
        Line(report, "## One message at a time (window 1)");
        Line(report);
        Line(report, "Round trip per message: from the device writing its PUBLISH to reading the PUBACK (through the gateway: after every output's PUBACK from the cloud broker).");
        Line(report);
        Line(report, "| scenario | brokers | messages in/s | round trip p50 ms | p99 ms | max ms | p99 target |");
        Line(report, "|---|---|---:|---:|---:|---:|---|");
        foreach (var r in measured)
        {
            var target = r.Kind == ScenarioKind.Gateway ? Target(true, r.RoundTripMs(99) < RoundTripP99TargetMs, $"< {RoundTripP99TargetMs:0} ms") : "";
            Line(report, $"| {Name(r.Kind)} | {Name(r.Brokers)} | {r.MessagesInPerSecond:N0} | {Ms(r.RoundTripMs(50))} | {Ms(r.RoundTripMs(99))} | {Ms(r.RoundTripMs(100))} | {target} |");
        }
        var kinds = measured.Select(r => r.Kind).Distinct().Where(k => DefaultOverTuned(results, k) is not null).ToArray();
        if (kinds.Length > 0)
        {
            Line(report);
            Line(report, "| scenario | messages in/s behind default / tuned brokers | target |");
            Line(report, "|---|---:|---|");
            foreach (var kind in kinds)
            {
                var ratio = DefaultOverTuned(results, kind)!.Value;
                var target = kind == ScenarioKind.Gateway ? Target(true, ratio >= DefaultBrokerRateTarget, $"≥ {DefaultBrokerRateTarget:0.0}×") : "";
                Line(report, $"| {Name(kind)} | {ratio:0.00}× | {target} |");
            }
        }
        Line(report);
        Line(report, $"Targets (gateway, {options.Devices} devices): p99 round trip under {RoundTripP99TargetMs:0} ms, and its rate behind mosquitto as installed at least {DefaultBrokerRateTarget:0.0}× its rate behind a tuned one.");
    }

    /// <summary>Connected idle devices: the relay's memory per connection, and throughput with them over without.</summary>
    private static void RenderIdleDevices(StringBuilder report, IReadOnlyList<ScenarioResult> results)
    {
        var withIdle = results.Where(r => r.IdleDevices > 0).ToArray();
        if (withIdle.Length == 0)
        {
            return;
        }
        Line(report);
        Line(report, "## Connected idle devices");
        Line(report);
        Line(report, "| scenario | brokers | QoS | idle devices | relay resident MiB before → after | per connection | target | delivered msg/s with / without idle | target |");
        Line(report, "|---|---|---|---:|---|---:|---|---:|---|");
        foreach (var r in withIdle)
        {
            var without = WithoutIdle(results, r);
            var ratio = without is null ? (double?)null : Ratio(r.DeliveredMessagesPerSecond, without.DeliveredMessagesPerSecond);
            var applies = r.Kind == ScenarioKind.Gateway;
            var memory = r.IdleMemory is { } m ? $"{m.Before / 1048576.0:0} → {m.After / 1048576.0:0}" : "–";
            var perConnection = r.BytesPerIdleConnection is { } bytes ? $"{bytes / 1024:0.0} KiB" : "–";
            var memoryTarget = r.BytesPerIdleConnection is { } b ? Target(applies, b <= BytesPerConnectionTarget, $"≤ {BytesPerConnectionTarget / 1024:0} KiB") : "";
            var throughputTarget = ratio is { } x ? Target(applies, x >= IdleThroughputTarget, $"≥ {IdleThroughputTarget:0.0}×") : "";
            Line(report, $"| {Name(r.Kind)} | {Name(r.Brokers)} | {r.Qos} | {r.IdleDevices} | {memory} | {perConnection} | {memoryTarget} | {(ratio is { } y ? $"{y:0.00}×" : "–")} | {throughputTarget} |");
        }
        Line(report);
        Line(report, "Memory: the relay's working set 5 s after the last idle device connected, minus before they connected, over their number. "
            + "Each scenario ran first without the idle devices (the throughput to compare against), then with them.");
    }

    private static ScenarioResult? WithoutIdle(IReadOnlyList<ScenarioResult> results, ScenarioResult r) =>
        results.FirstOrDefault(o => o.IdleDevices == 0 && o.Kind == r.Kind && o.Brokers == r.Brokers && o.Qos == r.Qos);

    private static double? DefaultOverTuned(IReadOnlyList<ScenarioResult> results, ScenarioKind kind)
    {
        var byDefault = results.FirstOrDefault(r => r.Kind == kind && r.Qos == 1 && r.IdleDevices == 0 && r.Brokers == BrokerTuning.Default);
        var tuned = results.FirstOrDefault(r => r.Kind == kind && r.Qos == 1 && r.IdleDevices == 0 && r.Brokers == BrokerTuning.Tuned);
        return byDefault is null || tuned is null ? null : Ratio(byDefault.MessagesInPerSecond, tuned.MessagesInPerSecond);
    }

    public static string Name(ScenarioKind kind) => kind switch
    {
        ScenarioKind.Direct => "direct (generator ceiling)",
        ScenarioKind.Baseline => "baseline – mosquitto bridge",
        ScenarioKind.Gateway => "gateway",
        ScenarioKind.GatewayBatch => "gateway, batching",
        ScenarioKind.Workers => "workers (amqp, 3-node RabbitMQ)",
        _ => kind.ToString(),
    };

    private sealed record Comparison(ScenarioKind Kind, BrokerTuning Brokers, byte Qos, double InRatio, double ThroughputRatio, double P99Ratio, long GatewayLost)
    {
        public bool ThroughputMet => ThroughputRatio >= ThroughputTarget;
        public bool P99Met => P99Ratio <= P99Target;
        public bool LostMet => GatewayLost == 0;
    }

    private static List<Comparison> Compare(IReadOnlyList<ScenarioResult> results)
    {
        var comparisons = new List<Comparison>();
        results = [.. results.Where(r => r.IdleDevices == 0)];
        foreach (var (brokers, qos) in results.Select(r => (r.Brokers, r.Qos)).Distinct())
        {
            var baseline = results.FirstOrDefault(r => r.Brokers == brokers && r.Qos == qos && r.Kind == ScenarioKind.Baseline);
            foreach (var gateway in results.Where(r => r.Brokers == brokers && r.Qos == qos && r.Kind is ScenarioKind.Gateway or ScenarioKind.GatewayBatch))
            {
                if (baseline is null)
                {
                    break;
                }
                var p99Gateway = gateway.LatencyMs(99) ?? double.PositiveInfinity;
                var p99Baseline = baseline.LatencyMs(99) ?? double.NaN;
                comparisons.Add(new Comparison(
                    gateway.Kind,
                    brokers,
                    qos,
                    Ratio(gateway.MessagesInPerSecond, baseline.MessagesInPerSecond),
                    Ratio(gateway.DeliveredMessagesPerSecond, baseline.DeliveredMessagesPerSecond),
                    Ratio(p99Gateway, p99Baseline),
                    gateway.Lost + (gateway.Failed ? 1 : 0)));
            }
        }
        return comparisons;
    }

    private static string Idle(ScenarioResult r) =>
        (r.Workers > 0 ? string.Create(Invariant, $" ×{r.Workers}") : "") + (r.IdleDevices > 0 ? string.Create(Invariant, $" + {r.IdleDevices} idle") : "");

    private static double Ratio(double a, double b) => b > 0 ? a / b : double.NaN;

    private static string Target(bool applies, bool met, string target) => applies ? $"{target} {(met ? "✅ met" : "❌ missed")}" : $"({target})";

    private static string Us(double? value) => value is { } us ? us.ToString("0.0", Invariant) : "–";

    private static string Ms(double? value) => value is { } ms ? ms.ToString(ms < 10 ? "0.00" : "0.0", Invariant) : "–";

    private static void Line(StringBuilder report, string text = "") => report.Append(text).Append('\n');

    /// <summary>Formats straight into <paramref name="report"/> (invariant culture: the project runs with invariant globalization).</summary>
    private static void Line(StringBuilder report, [InterpolatedStringHandlerArgument(nameof(report))] ref StringBuilder.AppendInterpolatedStringHandler text)
    {
        _ = text;
        report.Append('\n');
    }
}
