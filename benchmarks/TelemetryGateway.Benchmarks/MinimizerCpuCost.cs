using System.Globalization;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// The engine's CPU time per message as the gateway runs it (<c>minimize-cpu</c> verb): the minimizer with the site's
/// learned values (the step that learns from each message and scrubs every output), against the engine alone, for one
/// corpus message of each kind. Timed by the process's CPU time, best of several rounds, so a machine shared with
/// other work still shows what one core does; allocations per message are counted on the running thread.
/// </summary>
public static class MinimizerCpuCost
{
    private const int Rounds = 7;
    private const int MessagesPerRound = 20_000;

    public static void Run()
    {
        var policy = BenchmarkAssets.Policy();
        var key = BenchmarkAssets.Key();
        foreach (var kind in new[] { TelemetryKind.Status, TelemetryKind.Network, TelemetryKind.Firmware })
        {
            var message = CorpusMessages.Representative(kind);
            foreach (var (name, learned) in new[] { ("engine alone", (LearnedSecrets?)null), ("with 1,000 site values", Logs.LogScrubberBenchmarks.ThousandLearnedValues()) })
            {
                using var minimizer = new Minimizer(policy, key, [], learned);
                // The warm-up round also learns the message's own values.
                var (best, allocated) = CpuTime.Measure(Rounds, MessagesPerRound, () =>
                {
                    if (minimizer.Minimize(message.Topic, message.PayloadSequence).IsQuarantined)
                    {
                        throw new InvalidOperationException("A corpus message was quarantined.");
                    }
                });

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{kind}, {name}: {best / MessagesPerRound * 1e9:F0} ns of CPU per message, {allocated:F1} B allocated per message"));
            }
        }
    }
}
