using System.Diagnostics.Metrics;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Mqtt.Diagnostics;

/// <summary>
/// The MQTT side's recorded instruments (meter <c>TelemetryGateway.Mqtt</c>): the few that an event must record
/// itself, because no counter exists to observe (messages received per stream, quarantined per stream and reason,
/// upstream acknowledgement latency, reconnects). Everything else is observed from the counters the components keep.
/// Labels are bounded: policy stream names, fixed reason ids; never a topic, client id, serial or user name.
/// </summary>
internal sealed class MqttInstruments : IDisposable
{
    public const string MeterName = "TelemetryGateway.Mqtt";

    /// <summary>The stream label of publishes whose topic no policy stream matches.</summary>
    public const string NoStream = "(none)";

    private static readonly double[] s_latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter _meter;
    private readonly Counter<long> _received;
    private readonly Counter<long> _quarantined;
    private readonly Histogram<double> _ackLatency;
    private readonly Counter<long> _reconnects;

    public MqttInstruments(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _received = _meter.CreateCounter<long>(
            "telemetry_gateway.messages.received", "{message}", "Publishes received from devices and apps, per policy stream");
        _quarantined = _meter.CreateCounter<long>(
            "telemetry_gateway.messages.quarantined", "{message}", "Messages quarantined (nothing of them forwarded), per stream and reason");
        _ackLatency = _meter.CreateHistogram(
            "telemetry_gateway.upstream.ack.duration", "s", "Time from sending a QoS 1 publish upstream to its acknowledgement",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_latencyBuckets });
        _reconnects = _meter.CreateCounter<long>(
            "telemetry_gateway.upstream.reconnects", "{connection}", "Connections to the upstream made again after the first");
    }

    public Meter Meter => _meter;

    public void Received(string stream) => _received.Add(1, new KeyValuePair<string, object?>("stream", stream));

    public void Quarantined(string stream, QuarantineReason reason) =>
        _quarantined.Add(1, new KeyValuePair<string, object?>("stream", stream), new KeyValuePair<string, object?>("reason", reason.Id()));

    public void Acknowledged(TimeSpan latency, string server) =>
        _ackLatency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("server.address", server));

    public void Reconnected(string server) => _reconnects.Add(1, new KeyValuePair<string, object?>("server.address", server));

    public void Dispose() => _meter.Dispose();
}
