using TelemetryGateway.LoadTest;
using TelemetryGateway.LoadTest.Devices;
using TelemetryGateway.LoadTest.Processes;
using TelemetryGateway.LoadTest.Reporting;
using TelemetryGateway.LoadTest.Scenarios;

// The ops load benchmark: for each QoS level, the mosquitto bridge baseline and the gateway, fresh processes per run.
ChildProcesses.InstallExitHandlers();
var (options, errors) = LoadTestOptions.Parse(args);
if (options.Help)
{
    Console.Out.WriteLine(LoadTestOptions.Usage);
    return 0;
}
if (errors.Count > 0)
{
    Console.Error.WriteLine($"load test: {errors.Count} invalid argument(s):");
    foreach (var error in errors)
    {
        Console.Error.WriteLine($"  {error}");
    }
    Console.Error.WriteLine("(--help for usage)");
    return 2;
}

var progress = Console.Error;
var templates = StatusMessageTemplate.LoadCorpus(Path.Combine(AppContext.BaseDirectory, "testdata", "messages.ndjson"));
var machine = await MachineFacts.CollectAsync();
if (machine.MosquittoVersion == "unknown")
{
    progress.WriteLine("load test: mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)");
    return 3;
}
if ((options.Scenarios.Contains(ScenarioKind.Workers) || options.Scenarios.Contains(ScenarioKind.GatewayBatch) || (options.Scenarios.Contains(ScenarioKind.Gateway) && options.GatewayPort is null))
    && !File.Exists(options.ResolveGatewayDll()))
{
    progress.WriteLine($"load test: the gateway is not built: '{options.ResolveGatewayDll()}' does not exist "
        + "(dotnet build -c Release src/TelemetryGateway.Host, or pass --gateway-dll PATH, or leave it out with --scenarios baseline)");
    return 3;
}

if (options.IdleDevices > 0
    && FileDescriptorLimit.EnsureAtLeast((ulong)(options.Devices + options.IdleDevices) + 1_000) is { } limitProblem)
{
    // Each connection is one descriptor here and one in the gateway, which inherits this process's limit.
    progress.WriteLine($"load test: {limitProblem}");
    return 3;
}

var results = new List<ScenarioResult>();
var setups = new Dictionary<string, IReadOnlyList<string>>();
string? abortReason = null;
try
{
    foreach (var brokers in options.Brokers)
    {
        foreach (var qos in options.QosLevels)
        {
            foreach (var kind in options.Scenarios)
            {
                // With idle devices, each scenario runs without them first: the throughput to compare against. The workers
                // scenario runs once per worker count instead (with no idle devices).
                int[] idleCounts = options.IdleDevices > 0 ? [0, options.IdleDevices] : [0];
                var runs = kind == ScenarioKind.Workers
                    ? options.WorkerCounts.Select(w => (Idle: 0, Workers: w))
                    : idleCounts.Select(i => (Idle: i, Workers: 0));
                foreach (var (idle, workers) in runs)
                {
                    var name = workers > 0 ? $"{LoadReport.Name(kind)} ×{workers}, {LoadReport.Name(brokers)}" : $"{LoadReport.Name(kind)}, {LoadReport.Name(brokers)}";
                    progress.WriteLine($"{name}, QoS {qos}: {options.Devices} devices × {options.MessagesPerDevice} messages, {idle} idle devices");
                    var (result, description) = await ScenarioRunner.RunAsync(kind, brokers, qos, idle, options, templates, progress, workers);
                    results.Add(result);
                    setups.TryAdd(name, description);
                    progress.WriteLine(LoadReport.Summary(result));
                    if (result.Failed)
                    {
                        abortReason = $"{name}, QoS {qos}, {idle} idle devices: {string.Join("; ", result.Notes).ReplaceLineEndings(" ")}";
                        break;
                    }
                }
                if (abortReason is not null)
                {
                    break;
                }
            }
            if (abortReason is not null)
            {
                break;
            }
        }
        if (abortReason is not null)
        {
            break;
        }
    }
}
catch (StartFailedException e)
{
    abortReason = e.Message;
}
finally
{
    await WorkerCluster.StopSharedAsync();
}

var report = LoadReport.Render(options, machine, results, setups, abortReason);
Console.Out.Write(report);
try
{
    await File.WriteAllTextAsync(options.ReportPath, report);
    progress.WriteLine($"report written to {Path.GetFullPath(options.ReportPath)}");
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    progress.WriteLine($"load test: could not write the report to '{options.ReportPath}': {e.Message}");
}
if (results.Count > 0)
{
    var plotPath = LoadReport.PlotPath(options);
    try
    {
        await File.WriteAllTextAsync(plotPath, LoadPlot.Render(results));
        progress.WriteLine($"plot written to {Path.GetFullPath(plotPath)}");
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        progress.WriteLine($"load test: could not write the plot to '{plotPath}': {e.Message}");
    }
}
if (abortReason is not null)
{
    progress.WriteLine($"load test failed: {abortReason}");
    return 3;
}
var missed = LoadReport.MissedTargets(options, results);
foreach (var item in missed)
{
    progress.WriteLine($"target missed: {item}");
}
return options.EnforceTargets && missed.Count > 0 ? 1 : 0;
