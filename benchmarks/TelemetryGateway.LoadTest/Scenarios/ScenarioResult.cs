namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>The relay's resident memory before the idle devices connected and after, bytes.</summary>
internal sealed record IdleMemory(long Before, long After);

/// <summary>What one scenario run at one QoS level measured.</summary>
internal sealed record ScenarioResult
{
    public required ScenarioKind Kind { get; init; }
    public required BrokerTuning Brokers { get; init; }
    public required byte Qos { get; init; }

    /// <summary>Gateway workers of the <c>workers</c> scenario; 0 in the others.</summary>
    public int Workers { get; init; }

    /// <summary>CPU time of each worker (the <c>workers</c> scenario), in the order they were started.</summary>
    public IReadOnlyList<TimeSpan> WorkerCpu { get; init; } = [];

    /// <summary>Publishes the devices were asked to make.</summary>
    public required long MessagesPlanned { get; init; }

    /// <summary>Publishes completed: acknowledged at QoS 1, written to the socket at QoS 0.</summary>
    public required long MessagesIn { get; init; }

    /// <summary>From the start signal to the last device's last completion.</summary>
    public required TimeSpan PublishElapsed { get; init; }

    public required int OutputsPerMessage { get; init; }
    public required long OutputsReceived { get; init; }
    public required long Duplicates { get; init; }

    /// <summary>Publishes the cloud subscriber received (fewer than the outputs when the gateway batches).</summary>
    public long PublishesReceived { get; init; }

    /// <summary>From the start signal to the last output received.</summary>
    public required TimeSpan DeliveryElapsed { get; init; }

    /// <summary>Latency of every output with a <c>ts</c>, microseconds, sorted.</summary>
    public required long[] LatenciesMicros { get; init; }

    /// <summary>With a window of 1 at QoS 1: each message's publish to its PUBACK at the device, microseconds, sorted; else empty.</summary>
    public required long[] RoundTripsMicros { get; init; }

    /// <summary>Outputs received per <see cref="CloudSubscriber.BucketWidth"/> since the devices' release.</summary>
    public required int[] ArrivalsPerBucket { get; init; }

    /// <summary>Devices connected through the run that published nothing.</summary>
    public required int IdleDevices { get; init; }

    /// <summary>The relay's resident memory around connecting the idle devices; null without them.</summary>
    public required IdleMemory? IdleMemory { get; init; }

    /// <summary>Resident memory the relay grew by per idle connection, bytes; null when not measured.</summary>
    public double? BytesPerIdleConnection => IdleMemory is { } m && IdleDevices > 0 ? (m.After - m.Before) / (double)IdleDevices : null;

    /// <summary>CPU time of each process from the devices' release to the end of the drain.</summary>
    public required IReadOnlyDictionary<CpuRole, TimeSpan> CpuUsed { get; init; }

    /// <summary>Problems seen during the run (device errors, a child process gone, the time limit hit).</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <summary>A child process died or nothing could be carried: the numbers are not a measurement.</summary>
    public bool Failed { get; init; }

    public long OutputsExpected => MessagesIn * OutputsPerMessage;

    public long OutputsUnique => OutputsReceived - Duplicates;

    public long Lost => Math.Max(0, OutputsExpected - OutputsUnique);

    public double MessagesInPerSecond => Rate(MessagesIn, PublishElapsed);

    public double OutputsPerSecond => Rate(OutputsReceived, DeliveryElapsed);

    /// <summary>End to end: device messages whose outputs reached the cloud, per second of delivery.</summary>
    public double DeliveredMessagesPerSecond => Rate(OutputsUnique / (double)OutputsPerMessage, DeliveryElapsed);

    /// <summary>CPU microseconds <paramref name="role"/> spent per device message delivered; null when not measured.</summary>
    public double? CpuMicrosPerMessage(CpuRole role)
    {
        var delivered = OutputsUnique / (double)OutputsPerMessage;
        return CpuUsed.TryGetValue(role, out var used) && delivered > 0 ? used.TotalMicroseconds / delivered : null;
    }

    /// <summary>CPU microseconds <paramref name="role"/> spent per output delivered (distinct); null when not measured.</summary>
    public double? CpuMicrosPerOutput(CpuRole role) =>
        CpuUsed.TryGetValue(role, out var used) && OutputsUnique > 0 ? used.TotalMicroseconds / OutputsUnique : null;

    /// <summary>Outputs per publish the cloud subscriber received.</summary>
    public double? OutputsPerPublish => PublishesReceived > 0 ? OutputsReceived / (double)PublishesReceived : null;

    public double? LatencyMs(double percentile) => Percentile(LatenciesMicros, percentile);

    /// <summary>Percentile of <see cref="RoundTripsMicros"/> in ms; null when not measured.</summary>
    public double? RoundTripMs(double percentile) => Percentile(RoundTripsMicros, percentile);

    private static double? Percentile(long[] sortedMicros, double percentile)
    {
        if (sortedMicros.Length == 0)
        {
            return null;
        }
        var rank = (int)Math.Ceiling(percentile / 100 * sortedMicros.Length);
        return sortedMicros[Math.Clamp(rank - 1, 0, sortedMicros.Length - 1)] / 1000.0;
    }

    private static double Rate(double count, TimeSpan elapsed) => elapsed > TimeSpan.Zero ? count / elapsed.TotalSeconds : 0;
}
