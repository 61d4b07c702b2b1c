using System.Globalization;
using System.Text;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Benchmarks.Logs;

/// <summary>
/// The log scrubber's throughput per CPU second (<c>log-cpu</c> verb): the same work as
/// <see cref="LogScrubberBenchmarks.Scrubber"/>, timed by the process's CPU time instead of the wall clock, so that a
/// machine shared with other work still shows what one core does. Best of several rounds; allocations per log are
/// counted on the running thread.
/// </summary>
public static class LogScrubberCpuThroughput
{
    private const int Rounds = 7;
    private const int LogsPerRound = 400;

    public static void Run()
    {
        using var pseudonymizer = new Pseudonymizer(BenchmarkAssets.Key());
        using var scrubber = new LogScrubber(pseudonymizer);
        using var output = new PooledBufferWriter(2 * CorpusLogText.Text.Length);
        var serial = Encoding.UTF8.GetBytes(CorpusLogText.Serial);
        var learned = LogScrubberBenchmarks.ThousandLearnedValues().Current;
        foreach (var (name, segmentLength, site) in new[]
        {
            ("single segment", int.MaxValue, null),
            ($"{LogScrubberBenchmarks.MultiSegmentLength}-byte segments", LogScrubberBenchmarks.MultiSegmentLength, null),
            ("single segment, 1,000 learned values", int.MaxValue, learned),
        })
        {
            var input = CorpusLogText.Sequence(segmentLength);
            var (best, allocated) = CpuTime.Measure(Rounds, LogsPerRound, () =>
            {
                output.Reset();
                scrubber.Begin(serial, LogScrubRules.Default, site);
                if (scrubber.Process(input, isFinalBlock: true, output) != QuarantineReason.None)
                {
                    throw new InvalidOperationException("The corpus log text was quarantined.");
                }
            });

            var megabytesPerSecond = CorpusLogText.Text.Length * (double)LogsPerRound / best / 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"log scrubber, {name}: {megabytesPerSecond:F0} MB per CPU second, {allocated:F1} B allocated per log of {CorpusLogText.Text.Length} bytes"));
        }
    }
}
