using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TelemetryGateway.Core.Aggregation;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Turns one minimized output into the message the upstream receives: topic <c>{prefix}/{purpose}/{output topic}</c>
/// (<c>filtered/{purpose}/...</c> on the site broker when no upstream is configured), the tags, and either the
/// <c>telemetry.v1.Envelope</c> or the minimized payload alone; once for each upstream whose region the output's purpose
/// may go to (notice §7), tagged with that region and the transfer's safeguard.
/// </summary>
internal sealed class UpstreamEncoder(UpstreamOptions options, string gatewayId, RegionRouting routing, bool remote)
{
    public const string LocalPrefix = "filtered";
    public const string EnvelopeContentType = "application/x-protobuf; proto=telemetry.v1.Envelope";

    private readonly string _prefix = remote ? options.TopicPrefix : LocalPrefix;
    private readonly bool _envelope = options.Envelope == "protobuf";
    // Only the topic prefix is built here; the tags themselves are compiled with the policy (OutputTags).
    private readonly ConcurrentDictionary<StreamPurpose, string> _topicPrefixes = new();

    /// <summary>
    /// Adds to <paramref name="into"/> one message per upstream the output may go to, from the site's region (the
    /// origin of the data); returns how many (0: no upstream lies in a region its purpose allows, so it is withheld).
    /// </summary>
    public int Encode(in MinimizedOutput output, CompiledStream stream, DateTimeOffset receivedAt, string device, List<UpstreamMessage> into)
    {
        var residency = output.Tags.Residency;
        var origin = routing.SiteRegion;
        var added = 0;
        foreach (var region in routing.Regions)
        {
            if (residency.Allows(region, origin, out var safeguard))
            {
                into.Add(Encode(output, stream, receivedAt, device, region, safeguard));
                added++;
            }
        }
        return added;
    }

    private UpstreamMessage Encode(in MinimizedOutput output, CompiledStream stream, DateTimeOffset receivedAt, string device, string region, string safeguard)
    {
        var tags = output.Tags.OutputTags;
        var prefix = _topicPrefixes.GetOrAdd(output.Tags, static (purpose, prefix) => $"{prefix}/{purpose.OutputTags.Purpose}/", _prefix);
        var topic = string.Concat(prefix, Encoding.UTF8.GetString(output.Topic.Span));
        byte[] payload;
        if (_envelope)
        {
            var envelope = new Envelope
            {
                Purpose = tags.Purpose,
                LegalBasis = tags.LegalBasis,
                Policy = tags.Policy,
                Retention = tags.Retention,
                ContentType = stream.Format.ContentType(),
                Payload = ByteString.CopyFrom(output.Payload.Span),
                GatewayId = gatewayId,
                ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
                Stream = stream.Name,
                DestinationRegion = region,
                TransferSafeguard = safeguard,
            };
            envelope.Categories.AddRange(tags.CategoryList);
            payload = envelope.ToByteArray();
        }
        else
        {
            payload = output.Payload.ToArray();
        }
        return new UpstreamMessage(
            topic, payload, _envelope ? EnvelopeContentType : stream.Format.ContentType(), tags.Purpose, tags.LegalBasis, tags.Categories,
            tags.Policy, tags.Retention, tags.ExpirySeconds, stream.Name, device, Region: region, Safeguard: safeguard);
    }

    /// <summary>
    /// Turns one released aggregate into the message the upstream receives, as any output is (topic
    /// <c>{prefix}/{purpose}/{output topic}</c>, the entry's tags, the envelope when configured) plus the aggregate's
    /// own tags: anonymous, window, k and epsilon. It is about no device. Like any output, once for each upstream whose
    /// region the entry may go to from the site's region (notice §7); returns how many (0: withheld).
    /// </summary>
    public int EncodeAggregate(AggregateRelease release, List<UpstreamMessage> into)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(into);
        var added = 0;
        foreach (var region in routing.Regions)
        {
            if (release.Entry.Residency.Allows(region, routing.SiteRegion, out var safeguard))
            {
                into.Add(EncodeAggregate(release, region, safeguard));
                added++;
            }
        }
        return added;
    }

    private UpstreamMessage EncodeAggregate(AggregateRelease release, string region, string safeguard)
    {
        var entry = release.Entry;
        var tags = entry.OutputTags;
        var aggregate = new AggregateTags(
            $"{release.WindowStart.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)}/{tags.Window}",
            tags.K, tags.Epsilon!);
        var prefix = _topicPrefixes.GetOrAdd(entry, static (purpose, prefix) => $"{prefix}/{purpose.OutputTags.Purpose}/", _prefix);
        var topic = string.Concat(prefix, release.Topic);
        const string ContentType = "application/json";
        byte[] payload;
        if (_envelope)
        {
            var envelope = new Envelope
            {
                Purpose = tags.Purpose,
                LegalBasis = tags.LegalBasis,
                Policy = tags.Policy,
                Retention = tags.Retention,
                ContentType = ContentType,
                Payload = ByteString.CopyFrom(release.Payload),
                GatewayId = gatewayId,
                ReceivedAt = Timestamp.FromDateTimeOffset(release.WindowEnd),
                Stream = entry.StreamName,
                Anonymous = true,
                Window = aggregate.Window,
                K = (uint)aggregate.K,
                Epsilon = aggregate.Epsilon,
                DestinationRegion = region,
                TransferSafeguard = safeguard,
            };
            payload = envelope.ToByteArray();
        }
        else
        {
            payload = release.Payload;
        }
        return new UpstreamMessage(
            topic, payload, _envelope ? EnvelopeContentType : ContentType, tags.Purpose, tags.LegalBasis, tags.Categories,
            tags.Policy, tags.Retention, tags.ExpirySeconds, entry.StreamName, "", aggregate, region, safeguard);
    }
}
