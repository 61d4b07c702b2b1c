using System.Buffers;
using System.Collections.Concurrent;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Text log bodies: scrubbed line by line as they stream (<see cref="LogScrubber"/>), so a log of any size passes in
/// constant memory. Scrubbers (each with its own pseudonymizer) are pooled, one per concurrent upload.
/// </summary>
internal sealed class LogBodies(PseudonymizationKey key) : IDisposable
{
    private const int MaxPooled = 16;
    private readonly ConcurrentBag<LogRewriter> _pool = [];

    /// <summary>A rewriter for one log of the device <paramref name="deviceSerialUtf8"/>; return it with <see cref="Return"/>.</summary>
    public LogRewriter Rent(ReadOnlySpan<byte> deviceSerialUtf8, LogScrubRules rules)
    {
        var rewriter = _pool.TryTake(out var pooled) ? pooled : new LogRewriter(key);
        rewriter.Begin(deviceSerialUtf8, rules);
        return rewriter;
    }

    public void Return(LogRewriter rewriter)
    {
        ArgumentNullException.ThrowIfNull(rewriter);
        if (_pool.Count < MaxPooled)
        {
            _pool.Add(rewriter);
        }
        else
        {
            rewriter.Dispose();
        }
    }

    public void Dispose()
    {
        while (_pool.TryTake(out var rewriter))
        {
            rewriter.Dispose();
        }
    }
}

/// <summary>A <see cref="LogScrubber"/> as the pump's rewriter.</summary>
internal sealed class LogRewriter : IStreamingRewriter, IDisposable
{
    private readonly Pseudonymizer _pseudonymizer;
    private readonly LogScrubber _scrubber;

    public LogRewriter(PseudonymizationKey key)
    {
        _pseudonymizer = new Pseudonymizer(key);
        _scrubber = new LogScrubber(_pseudonymizer);
    }

    private SerialHandling _serial;

    public void Begin(ReadOnlySpan<byte> deviceSerialUtf8, LogScrubRules rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _serial = rules.Serial;
        _scrubber.Begin(deviceSerialUtf8, rules);
    }

    /// <summary>Recorded as the same log over MQTT is (<see cref="ProcessingTally.FromLogScrub"/>).</summary>
    public ProcessingTally Counts => ProcessingTally.FromLogScrub(_scrubber.Counts, _serial);

    public string? Process(in ReadOnlySequence<byte> input, bool isFinalBlock, IBufferWriter<byte> output)
    {
        var reason = _scrubber.Process(input, isFinalBlock, output);
        return reason == QuarantineReason.None ? null : reason.Id();
    }

    public void Dispose()
    {
        _scrubber.Dispose();
        _pseudonymizer.Dispose();
    }
}
