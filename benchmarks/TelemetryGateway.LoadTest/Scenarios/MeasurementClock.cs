using System.Diagnostics;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>The time base of one scenario run: microseconds since its measurement started (the devices' <c>ts</c>).</summary>
internal sealed class MeasurementClock(long originTimestamp)
{
    public long OriginTimestamp { get; } = originTimestamp;

    public static MeasurementClock StartNow() => new(Stopwatch.GetTimestamp());

    public long NowMicros() => ToMicros(Stopwatch.GetTimestamp());

    public long ToMicros(long timestamp) => Stopwatch.GetElapsedTime(OriginTimestamp, timestamp).Ticks / (TimeSpan.TicksPerMillisecond / 1000);
}
