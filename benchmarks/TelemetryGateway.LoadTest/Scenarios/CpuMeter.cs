using System.Diagnostics;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>Whose CPU time a meter reads.</summary>
internal enum CpuRole
{
    /// <summary>What carries device messages to the cloud broker: the gateway, or the bridged site mosquitto.</summary>
    Relay,

    /// <summary>The cloud mosquitto the relay publishes to and the subscriber reads from.</summary>
    CloudBroker,

    /// <summary>This benchmark's own process: the simulated devices and the cloud subscriber.</summary>
    Generator,

    /// <summary>The RabbitMQ nodes the devices publish to and the workers consume from (the <c>workers</c> scenario).</summary>
    Cluster,
}

/// <summary>Reads one process's CPU time (user and system, all threads).</summary>
internal sealed record CpuMeter(CpuRole Role, Func<TimeSpan> Read)
{
    public static CpuMeter Generator { get; } = new(CpuRole.Generator, () => Process.GetCurrentProcess().TotalProcessorTime);
}

/// <summary>CPU time each process used during the measured part of a run (devices released until the drain ended).</summary>
internal sealed class CpuUsage
{
    private readonly IReadOnlyList<CpuMeter> _meters;
    private readonly TimeSpan[] _start;

    private CpuUsage(IReadOnlyList<CpuMeter> meters)
    {
        _meters = meters;
        _start = meters.Select(meter => meter.Read()).ToArray();
    }

    public static CpuUsage Start(IEnumerable<CpuMeter> meters) => new([.. meters, CpuMeter.Generator]);

    /// <summary>CPU time used since <see cref="Start"/>, per role.</summary>
    public IReadOnlyDictionary<CpuRole, TimeSpan> Stop() =>
        _meters.Select((meter, i) => (meter.Role, Used: meter.Read() - _start[i]))
            .ToDictionary(entry => entry.Role, entry => entry.Used > TimeSpan.Zero ? entry.Used : TimeSpan.Zero);
}
