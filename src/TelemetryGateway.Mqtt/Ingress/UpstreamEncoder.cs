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
    public int Encode(in MinimizedOutput output, CompiledStream stream, DateTimeOffset receivedAt, string device, List<UpstreamMessage> into) =>
        EncodePerRegion(output.Tags, Encoding.UTF8.GetString(output.Topic.Span), output.Payload.Span, stream.Format.ContentType(), receivedAt, device, null, into);

    /// <summary>
    /// Turns one released aggregate into the messages the upstreams receive, as any output is (topic
    /// <c>{prefix}/{purpose}/{output topic}</c>, the entry's tags, the envelope when configured) plus the aggregate's
    /// own tags: anonymous, window, k and epsilon. It is about no device. Like any output, once for each upstream whose
    /// region the entry may go to from the site's region (notice §7); returns how many (0: withheld).
    /// </summary>
    public int EncodeAggregate(AggregateRelease release, List<UpstreamMessage> into)
    {
        ArgumentNullException.ThrowIfNull(release);
        var tags = release.Entry.OutputTags;
        var aggregate = new AggregateTags(
            $"{release.WindowStart.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)}/{tags.Window}",
            tags.K, tags.Epsilon!);
        return EncodePerRegion(release.Entry, release.Topic, release.Payload, AggregateContentType, release.WindowEnd, "", aggregate, into);
    }

    private const string AggregateContentType = "application/json";

    private int EncodePerRegion(
        StreamPurpose entry, string outputTopic, ReadOnlySpan<byte> payload, string contentType, DateTimeOffset receivedAt, string device,
        AggregateTags? aggregate, List<UpstreamMessage> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var added = 0;
        foreach (var region in routing.Regions)
        {
            if (entry.Residency.Allows(region, routing.SiteRegion, out var safeguard))
            {
                into.Add(Encode(entry, outputTopic, payload, contentType, receivedAt, device, aggregate, region, safeguard));
                added++;
            }
        }
        return added;
    }

    private UpstreamMessage Encode(
        StreamPurpose entry, string outputTopic, ReadOnlySpan<byte> minimized, string contentType, DateTimeOffset receivedAt, string device,
        AggregateTags? aggregate, string region, string safeguard)
    {
        var tags = entry.OutputTags;
        var prefix = _topicPrefixes.GetOrAdd(entry, static (purpose, prefix) => $"{prefix}/{purpose.OutputTags.Purpose}/", _prefix);
        var topic = string.Concat(prefix, outputTopic);
        byte[] payload;
        if (_envelope)
        {
            var envelope = new Envelope
            {
                Purpose = tags.Purpose,
                LegalBasis = tags.LegalBasis,
                Policy = tags.Policy,
                Retention = tags.Retention,
                ContentType = contentType,
                Payload = ByteString.CopyFrom(minimized),
                GatewayId = gatewayId,
                ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
                Stream = entry.StreamName,
                DestinationRegion = region,
                TransferSafeguard = safeguard,
            };
            envelope.Categories.AddRange(tags.CategoryList);
            if (aggregate is not null)
            {
                envelope.Anonymous = true;
                envelope.Window = aggregate.Window;
                envelope.K = (uint)aggregate.K;
                envelope.Epsilon = aggregate.Epsilon;
            }
            payload = envelope.ToByteArray();
        }
        else
        {
            payload = minimized.ToArray();
        }
        return new UpstreamMessage(
            topic, payload, _envelope ? EnvelopeContentType : contentType, tags.Purpose, tags.LegalBasis, tags.Categories,
            tags.Policy, tags.Retention, tags.ExpirySeconds, entry.StreamName, device, aggregate, region, safeguard);
    }
}
