using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// The scrubber never faults, whatever a line holds: every line of the real-stack corpora and of the fuzzing seeds,
/// cut at each byte and with each byte replaced by some of the bytes the grammar treats as structure. The fuzzer found
/// a placeholder check that sliced a one-byte value ("psk=&gt;"); this walks the same neighbourhood deterministically.
/// </summary>
public sealed class LogScrubberRobustnessTests
{
    private static readonly byte[] StructuralBytes = "<>()[]{}\"'=: \t\\/-#|*!?,;.@%\n\r"u8.ToArray();

    [Fact]
    public void No_line_cut_or_with_one_byte_replaced_makes_the_scrubber_fault()
    {
        var lines = CorpusLines();
        Assert.True(lines.Count > 1000, $"expected the corpora's lines, found {lines.Count}");
        var runs = 0;
        foreach (var line in lines)
        {
            for (var cut = 1; cut <= line.Length; cut++)
            {
                ScrubWithoutFault(line.AsSpan(0, cut).ToArray(), ref runs);
            }

            var mutated = line.ToArray();
            for (var i = 0; i < mutated.Length; i++)
            {
                var original = mutated[i];
                // Four replacements a position, rotating through the set, so every byte is tried at every offset
                // within a few positions without scrubbing each line 30 times per byte.
                for (var k = 0; k < 4; k++)
                {
                    mutated[i] = StructuralBytes[(i + (k * 7)) % StructuralBytes.Length];
                    ScrubWithoutFault(mutated, ref runs);
                }

                mutated[i] = original;
            }
        }

        Assert.True(runs > 100_000, $"{runs} inputs scrubbed");
    }

    [Theory]
    [InlineData("psk=>")]
    [InlineData("password: )")]
    [InlineData("wpa_passphrase=]")]
    [InlineData("SSID: \">\"")]
    [InlineData("token '<'")]
    public void A_one_byte_bracket_after_a_marker_is_scrubbed_without_fault(string line)
    {
        foreach (var segmentation in Enum.GetValues<Segmentation>())
        {
            LogScrubbing.Run(Encoding.UTF8.GetBytes(line), segmentation, "", null, out var reason, out _);
            Assert.Equal(QuarantineReason.None, reason);
        }
    }

    private static void ScrubWithoutFault(byte[] line, ref int runs)
    {
        runs++;
        try
        {
            LogScrubbing.Run(line, Segmentation.SingleSegment, "", null, out var reason, out _);
            Assert.NotEqual(QuarantineReason.ProcessingFault, reason);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            // The input is test data with planted values: name the failure by its shape, not its text.
            Assert.Fail($"the scrubber threw {e.GetType().Name} on a {line.Length}-byte line: {e.StackTrace}");
        }
    }

    private static List<byte[]> CorpusLines()
    {
        var testdata = Path.Combine(AppContext.BaseDirectory, "testdata");
        var texts = Directory.GetFiles(Path.Combine(testdata, "logs"), "*.ndjson")
            .SelectMany(File.ReadLines)
            .Where(l => l.Length > 0)
            .Select(l =>
            {
                using var document = JsonDocument.Parse(l);
                return document.RootElement.GetProperty("text").GetString()!;
            })
            .Concat(Directory.GetFiles(Path.Combine(testdata, "fuzz", "text-log", "seeds")).Select(File.ReadAllText));
        return [.. texts.SelectMany(t => t.Split('\n')).Where(l => l.Length > 0).Select(Encoding.UTF8.GetBytes)];
    }
}
