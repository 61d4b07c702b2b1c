using System.Diagnostics.Metrics;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authorization;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Diagnostics;

/// <summary>
/// Observable instruments over the counters delivery, the outbox and device security already keep: read at each
/// collection (a scrape), so they add nothing to the per-message path. On the meter of <see cref="MqttInstruments"/>.
/// </summary>
internal sealed class MqttObservations
{
    private static readonly DenialReason[] s_denialReasons = Enum.GetValues<DenialReason>();

    public MqttObservations(MqttInstruments instruments, SqliteOutbox outbox, Destinations destinations, DeviceSecurity? security = null)
    {
        ArgumentNullException.ThrowIfNull(instruments);
        ArgumentNullException.ThrowIfNull(destinations);
        var meter = instruments.Meter;

        // Per path and purpose (the notice's purpose ids: a bounded label).
        meter.CreateObservableCounter("telemetry_gateway.outputs.forwarded", () => Forwarded(destinations),
            "{output}", "Outputs acknowledged by the upstream, sent directly or from the outbox, per purpose");
        meter.CreateObservableCounter("telemetry_gateway.outputs.dropped", () => new[]
        {
            new Measurement<long>(outbox.Dropped, new KeyValuePair<string, object?>("reason", "outbox-full")),
            new Measurement<long>(outbox.Expired, new KeyValuePair<string, object?>("reason", "retention-expired")),
        }, "{output}", "Outputs dropped before delivery: the outbox was full, or their retention ended while they waited");
        meter.CreateObservableCounter("telemetry_gateway.dead_letters", () => outbox.DeadLettered, "{output}", "Outputs the upstream rejected, kept as dead letters");

        meter.CreateObservableGauge("telemetry_gateway.outbox.depth", () => outbox.Count, "{output}", "Outputs stored in the outbox, waiting for the upstream");
        meter.CreateObservableGauge("telemetry_gateway.outbox.depth.limit", () => outbox.Limits.MaxMessages, "{output}", "Outputs the outbox holds before it drops the oldest");
        meter.CreateObservableGauge("telemetry_gateway.outbox.oldest.age", () => outbox.OldestAge().TotalSeconds, "s",
            "How long the oldest output in the outbox has waited (0 when none waits)");
        meter.CreateObservableGauge("telemetry_gateway.outbox.size", () => outbox.Bytes, "By", "Bytes stored in the outbox");
        meter.CreateObservableGauge("telemetry_gateway.outbox.size.limit", () => outbox.Limits.MaxBytes, "By", "Bytes the outbox holds before it drops the oldest");

        // Per upstream: its host and its region (notice §7), both from the configuration, never from a message.
        meter.CreateObservableGauge("telemetry_gateway.upstream.connected", () => destinations.All.Select(d => new Measurement<int>(d.Upstream.IsConnected ? 1 : 0, Labels(d))),
            "{connection}", "1 while the upstream is connected, else 0");
        meter.CreateObservableGauge("telemetry_gateway.outbox.depth.region", () => destinations.All.Select(d => new Measurement<long>(outbox.CountFor(d.Region), Labels(d))),
            "{output}", "Outputs stored in the outbox for one upstream's region, waiting for it");
        if (destinations.All.Any(d => d.Upstream is MqttUpstream))
        {
            meter.CreateObservableGauge("telemetry_gateway.upstream.in_flight",
                () => destinations.All.Where(d => d.Upstream is MqttUpstream).Select(d => new Measurement<int>(((MqttUpstream)d.Upstream).InFlight, Labels(d))),
                "{message}", "Publishes sent upstream and not yet acknowledged");
        }

        if (security is null)
        {
            // A worker of a cluster has no site broker: connections and ACL decisions are the cluster's.
            return;
        }

        meter.CreateObservableGauge("telemetry_gateway.connections.current", () => security.Connections.Open, "{connection}", "MQTT connections open on the site broker");
        meter.CreateObservableCounter("telemetry_gateway.connections.refused", () => Refusals(security), "{connection}", "MQTT connections refused, per reason");
        meter.CreateObservableCounter("telemetry_gateway.acl.denials", () => Denials(security), "{request}", "Publishes and subscriptions denied by the topic ACL and limits, per reason");
    }

    private static IEnumerable<Measurement<long>> Forwarded(Destinations destinations)
    {
        foreach (var (path, direct) in new[] { ("direct", true), ("outbox", false) })
        {
            foreach (var (purpose, count) in destinations.DeliveredPerPurpose(direct))
            {
                yield return new Measurement<long>(count, new KeyValuePair<string, object?>("path", path), new KeyValuePair<string, object?>("purpose", purpose));
            }
        }
    }

    private static KeyValuePair<string, object?>[] Labels(Destination destination) =>
        [new("server.address", destination.Server), new("region", destination.Region)];

    private static IEnumerable<Measurement<long>> Refusals(DeviceSecurity security)
    {
        foreach (var (reason, count) in security.RefusalsByReason)
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    private static IEnumerable<Measurement<long>> Denials(DeviceSecurity security)
    {
        foreach (var reason in s_denialReasons)
        {
            yield return new Measurement<long>(security.Denials(reason), new KeyValuePair<string, object?>("reason", DenialReasonIds.Id(reason)));
        }
    }
}

/// <summary>Stable ids of ACL denial reasons, for metrics labels: TopicTooLong -> topic-too-long.</summary>
internal static class DenialReasonIds
{
    private static readonly string[] s_ids = [.. Enum.GetValues<DenialReason>().Select(reason => Kebab(reason.ToString()))];

    public static string Id(DenialReason reason) => s_ids[(int)reason];

    public static string Kebab(string pascal)
    {
        var id = new System.Text.StringBuilder(pascal.Length + 8);
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && id.Length > 0)
            {
                id.Append('-');
            }
            id.Append(char.ToLowerInvariant(c));
        }
        return id.ToString();
    }
}
