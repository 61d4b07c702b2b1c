using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Benchmarks.Logs;

/// <summary>
/// Scrubbing the corpus log text (about 64 KiB per operation, see <see cref="CorpusLogText"/>) with the
/// <see cref="LogScrubber"/>, as one segment and in 1 KiB segments, against the same rules as a chain of compiled
/// <see cref="System.Text.RegularExpressions.Regex"/> replacements (decode, replace, encode); and the scrubber with
/// the site's 1,000 learned values to remove as well (none of which is in the corpus log: the full search, as on most
/// logs). The MB/s column is input bytes per second.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet runs a generated subclass of the benchmark class.</remarks>
[Config(typeof(LogScrubberBenchmarkConfig))]
[MemoryDiagnoser]
public class LogScrubberBenchmarks : IDisposable
{
    public const int MultiSegmentLength = 1024;

    private Pseudonymizer? _pseudonymizer;
    private LogScrubber? _scrubber;
    private PooledBufferWriter? _output;
    private RegexLogScrubber? _regex;
    private ReadOnlySequence<byte> _input;
    private byte[] _serial = [];
    private LearnedSecrets _learned = new();

    [Params(LogSegmentation.SingleSegment, LogSegmentation.MultiSegment)]
    public LogSegmentation Segmentation { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pseudonymizer = new Pseudonymizer(BenchmarkAssets.Key());
        _scrubber = new LogScrubber(_pseudonymizer);
        _output = new PooledBufferWriter(2 * CorpusLogText.Text.Length);
        _input = CorpusLogText.Sequence(Segmentation == LogSegmentation.SingleSegment ? int.MaxValue : MultiSegmentLength);
        _serial = Encoding.UTF8.GetBytes(CorpusLogText.Serial);
        var pseudonym = new byte[_pseudonymizer.Length];
        _pseudonymizer.Write(_serial, pseudonym);
        _regex = new RegexLogScrubber(CorpusLogText.Serial, Encoding.UTF8.GetString(pseudonym));
        _learned = ThousandLearnedValues();

        // The baseline must do the same job: on the corpus both write the same text.
        Scrubber();
        var expected = Encoding.UTF8.GetString(_output.WrittenMemory.Span);
        if (_regex.Scrub(Encoding.UTF8.GetString(CorpusLogText.Text)) != expected)
        {
            throw new InvalidOperationException("The regex baseline and the log scrubber disagree on the corpus log text.");
        }
    }

    /// <summary>1,000 values shaped like real ones (Wi-Fi names, passphrases, e-mail addresses, names), none in the corpus text.</summary>
    public static LearnedSecrets ThousandLearnedValues()
    {
        var learned = new LearnedSecrets();
        var classes = Enum.GetValues<LearnedClass>();
        for (var i = 0; learned.Count < 1000; i++)
        {
            var value = (i % 4) switch
            {
                0 => $"Haus-{i:D4}-WLAN",
                1 => $"Sommer{i:D4}!x",
                2 => $"owner.{i:D4}@example.org",
                _ => $"Kim Lee {i:D4}",
            };
            learned.Learn($"dev-{i % 100}", classes[i % classes.Length], Encoding.UTF8.GetBytes(value));
        }

        return learned;
    }

    [Benchmark(Baseline = true)]
    public int RegexChain()
    {
        var scrubbed = _regex!.Scrub(Encoding.UTF8.GetString(_input));
        _output!.Reset();
        var destination = _output.GetSpan(Encoding.UTF8.GetMaxByteCount(scrubbed.Length));
        var written = Encoding.UTF8.GetBytes(scrubbed, destination);
        _output.Advance(written);
        return written;
    }

    [Benchmark]
    public int Scrubber()
    {
        _output!.Reset();
        _scrubber!.Begin(_serial, LogScrubRules.Default);
        var reason = _scrubber.Process(_input, isFinalBlock: true, _output);
        return reason == QuarantineReason.None ? _output.WrittenMemory.Length : -1;
    }

    [Benchmark]
    public int ScrubberWithLearnedValues()
    {
        _output!.Reset();
        _scrubber!.Begin(_serial, LogScrubRules.Default, _learned.Current);
        var reason = _scrubber.Process(_input, isFinalBlock: true, _output);
        return reason == QuarantineReason.None ? _output.WrittenMemory.Length : -1;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _scrubber?.Dispose();
        _pseudonymizer?.Dispose();
        _output?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>How the benchmark presents the log text.</summary>
public enum LogSegmentation
{
    SingleSegment,
    MultiSegment,
}
