using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>Runs a whole log through a <see cref="LogScrubber"/> the way an ingress does.</summary>
internal static class LogScrubbing
{
    // A pseudonymizer is one thread's (it reuses its HMAC state and cache), and test classes run in parallel.
    [ThreadStatic]
    private static Pseudonymizer? t_pseudonymizer;

    public static Pseudonymizer Pseudonymizer => t_pseudonymizer ??= new(TestPolicies.Key);

    public static string Scrub(string log, Segmentation segmentation = Segmentation.SingleSegment, string serial = "", LogScrubRules? rules = null) =>
        Scrub(Encoding.UTF8.GetBytes(log), segmentation, serial, rules, out _);

    public static string Scrub(byte[] log, Segmentation segmentation, string serial, LogScrubRules? rules, out LogScrubCounts counts)
    {
        var bytes = Run(log, segmentation, serial, rules, out var reason, out counts);
        Assert.Equal(QuarantineReason.None, reason);
        return Encoding.UTF8.GetString(bytes);
    }

    public static byte[] Run(byte[] log, Segmentation segmentation, string serial, LogScrubRules? rules, out QuarantineReason reason, out LogScrubCounts counts)
    {
        using var scrubber = new LogScrubber(Pseudonymizer);
        using var output = new PooledBufferWriter();
        scrubber.Begin(Encoding.UTF8.GetBytes(serial), rules ?? LogScrubRules.Default);
        reason = scrubber.Process(Segments.Split(log, segmentation), isFinalBlock: true, output);
        counts = scrubber.Counts;
        return output.WrittenMemory.ToArray();
    }

    /// <summary>
    /// The scrubbed text, asserted equal on single-segment, multi-segment and one-byte-per-segment input and when fed
    /// in blocks of a few bytes.
    /// </summary>
    public static string ScrubEverySegmentation(string log, LogScrubRules? rules = null)
    {
        var single = Scrub(log, Segmentation.SingleSegment, rules: rules);
        Assert.Equal(single, Scrub(log, Segmentation.MultiSegment, rules: rules));
        Assert.Equal(single, Scrub(log, Segmentation.OneBytePerSegment, rules: rules));
        Assert.Equal(single, ScrubInBlocks(log, 5, rules: rules));
        return single;
    }

    /// <summary>The pseudonym the scrubber writes for <paramref name="serial"/>.</summary>
    public static string PseudonymOf(string serial)
    {
        var destination = new byte[Pseudonymizer.Length];
        Pseudonymizer.Write(Encoding.UTF8.GetBytes(serial), destination);
        return Encoding.UTF8.GetString(destination);
    }

    /// <summary>Feeds the log as several Process calls (a block per call), the last one final.</summary>
    public static string ScrubInBlocks(string log, int blockLength, string serial = "", LogScrubRules? rules = null)
    {
        var bytes = Encoding.UTF8.GetBytes(log);
        using var scrubber = new LogScrubber(Pseudonymizer);
        using var output = new PooledBufferWriter();
        scrubber.Begin(Encoding.UTF8.GetBytes(serial), rules ?? LogScrubRules.Default);
        for (var offset = 0; offset < bytes.Length || offset == 0; offset += blockLength)
        {
            var length = Math.Min(blockLength, bytes.Length - offset);
            var final = offset + length >= bytes.Length;
            Assert.Equal(QuarantineReason.None, scrubber.Process(new ReadOnlySequence<byte>(bytes, offset, length), final, output));
            if (final)
            {
                break;
            }
        }

        return Encoding.UTF8.GetString(output.WrittenMemory.Span);
    }
}
