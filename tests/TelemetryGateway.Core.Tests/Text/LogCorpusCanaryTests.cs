using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// The log messages of the shared corpus scrubbed for the diagnostics purpose (serial pseudonymized): no canary
/// that diagnostics may not see survives in any encoding, on every segmentation.
/// </summary>
public sealed class LogCorpusCanaryTests
{
    private const string Purpose = "diagnostics";

    public static TheoryData<string, Segmentation> Cases()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var message in LogMessages())
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(message.Id, segmentation);
            }
        }

        return data;
    }

    [Fact]
    public void Corpus_has_log_messages()
    {
        Assert.NotEmpty(LogMessages());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Scrubbed_log_holds_no_canary_that_diagnostics_may_not_see(string id, Segmentation segmentation)
    {
        var message = LogMessages().Single(m => m.Id == id);
        var output = Encoding.UTF8.GetBytes(LogScrubbing.Scrub(message.Payload, segmentation, SerialOf(message), LogScrubRules.Default, out _));

        foreach (var (canary, index) in message.Canaries.Select((c, i) => (c, i)))
        {
            if (canary.IsNever || !canary.OnlyPurposes.Contains(Purpose))
            {
                Assert.False(CanaryScanner.Contains(output, canary.Value), $"{id}: canary #{index} ({canary.Rule}) survived");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Scrubbed_log_keeps_levels_timestamps_components_and_measurements(string id, Segmentation segmentation)
    {
        var message = LogMessages().Single(m => m.Id == id);
        var input = Encoding.UTF8.GetString(message.Payload);
        var output = LogScrubbing.Scrub(message.Payload, segmentation, SerialOf(message), LogScrubRules.Default, out var counts);

        var inputLines = input.Split('\n');
        var outputLines = output.Split('\n');
        Assert.Equal(inputLines.Length, outputLines.Length);
        foreach (var (line, index) in inputLines.Select((l, i) => (l, i)).Where(x => x.l.Length > 0))
        {
            // Timestamp, level and component ("2026-11-24T10:00:01Z I wifi:") open every line unchanged.
            var head = line[..(line.IndexOf(':', 21) + 1)];
            Assert.StartsWith(head, outputLines[index], StringComparison.Ordinal);
        }

        Assert.Contains(" bms: cell 3 temp ", output, StringComparison.Ordinal);
        Assert.Contains("hdop=0.9", output, StringComparison.Ordinal);
        Assert.Contains("auth=WPA2", output, StringComparison.Ordinal);
        Assert.Contains(LogScrubbing.PseudonymOf(SerialOf(message)), output, StringComparison.Ordinal);
        Assert.True(counts.Total > 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Scrubbed_log_is_the_same_on_every_segmentation(string id, Segmentation segmentation)
    {
        var message = LogMessages().Single(m => m.Id == id);
        var single = LogScrubbing.Scrub(message.Payload, Segmentation.SingleSegment, SerialOf(message), LogScrubRules.Default, out var singleCounts);

        var output = LogScrubbing.Scrub(message.Payload, segmentation, SerialOf(message), LogScrubRules.Default, out var counts);

        Assert.Equal(single, output);
        Assert.Equal(singleCounts, counts);
    }

    private static IEnumerable<CorpusMessage> LogMessages() =>
        Support.Corpus.Messages.Where(m => m.ContentType == "text/plain" && m.Topic.EndsWith("/log", StringComparison.Ordinal) && !m.IsBad);

    // dt/anker_power/{pn}/{sn}/log
    private static string SerialOf(CorpusMessage message) => message.Topic.Split('/')[3];
}
