using System.Buffers;
using SharpFuzz;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Fuzz;

// The fuzzing harness. Under AFL++ (tests/fuzz/run-fuzz.sh):  dotnet TelemetryGateway.Fuzz.dll TARGET
// Check that the canary oracle can fire at all:              dotnet TelemetryGateway.Fuzz.dll TARGET --self-check
// Once over saved inputs (seeds, or crashes AFL++ found):   dotnet TelemetryGateway.Fuzz.dll TARGET --replay FILE_OR_DIR...
// (replay with a build whose engine is not instrumented: instrumented code outside SharpFuzz's callback has no coverage map).
// A finding is an exception escaping the engine, a message the engine quarantined as a fault of its own (it catches
// its exceptions so that the broker survives them), or a `never` canary of the seeds in an output (CanaryOracle).
if (args.Length == 0 || FuzzTargets.Find(args[0]) is not { } target)
{
    Console.Error.WriteLine($"usage: TelemetryGateway.Fuzz TARGET [--replay FILE_OR_DIR...]; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}
var seeds = Directory.GetFiles(target.SeedDirectory).Select(File.ReadAllBytes).ToList();
var oracle = new CanaryOracle(File.ReadAllLines(target.CanaryFile), seeds, target.Check);
// Made on first use: under AFL++ the instrumented engine may run only inside SharpFuzz's callback (its coverage map is
// set up there), and the policy compiler is part of the engine.
Minimizer? minimizer = null;

void RunOne(byte[] input)
{
    // With the learned-values step, as the gateway runs: what one input reveals is learned and scrubbed from the next.
    minimizer ??= new Minimizer(
        PolicyCompiler.Compile(File.ReadAllBytes(target.PolicyPath)).Policy
            ?? throw new InvalidOperationException($"the policy {target.Policy} does not compile"),
        PseudonymizationKey.FromBytes(new byte[32]),
        [new ConsentGate(NoConsentRecorded.Instance)],
        new LearnedSecrets());
    var result = minimizer.Minimize(target.Topic, new ReadOnlySequence<byte>(input));
    if (!result.IsMatched)
    {
        throw new InvalidOperationException($"target {target.Name}: its topic matches no stream of the policy");
    }
    if (result.IsQuarantined && result.QuarantineReason == QuarantineReason.ProcessingFault)
    {
        throw new InvalidOperationException("the engine faulted on this input (quarantined as processing-fault)");
    }
    var outputs = new List<byte[]>();
    foreach (var output in result.Outputs.Span)
    {
        outputs.Add(output.Payload.ToArray());
        outputs.Add(output.Topic.ToArray());
    }
    if (oracle.FindLeak(input, outputs) is { } leaked)
    {
        // The canary itself is not printed: the finding file is the evidence.
        throw new InvalidOperationException($"a never canary ({leaked.Length} characters) survived minimization");
    }
}

if (args.Length > 1 && args[1] == "--self-check")
{
    if (target.Check == CanaryCheck.None)
    {
        Console.WriteLine($"{target.Name}: no canary check for this format (crashes, hangs and engine faults only)");
        return 0;
    }
    // The oracle must be able to fire: each seed with a planted canary, taken as its own output, is a leak.
    var planted = seeds.Count(seed => oracle.FindLeak(seed, [seed]) is not null);
    Console.WriteLine($"{target.Name}: the oracle flags {planted} of {seeds.Count} seeds passed through unminimized");
    return planted > 0 ? 0 : 1;
}

if (args.Length > 1 && args[1] == "--replay")
{
    var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]).Where(f => !f.EndsWith("README.txt", StringComparison.Ordinal)).ToList();
    var failures = 0;
    foreach (var file in files)
    {
        try
        {
            RunOne(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            failures++;
            Console.Error.WriteLine($"{file}: {e}");
        }
    }
    Console.WriteLine($"{target.Name}: {files.Count} inputs replayed, {failures} findings ({oracle.CanaryCount} canaries, {oracle.PlantedPathCount} planted paths)");
    return failures == 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    RunOne(buffer.ToArray());
});
return 0;
