using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Turns one minimized output into the message the upstream receives: topic <c>{prefix}/{purpose}/{output topic}</c>
/// (<c>filtered/{purpose}/...</c> on the site broker when no upstream is configured), the tags, and either the
/// <c>telemetry.v1.Envelope</c> or the minimized payload alone.
/// </summary>
internal sealed class UpstreamEncoder(UpstreamOptions options, string gatewayId)
{
    public const string LocalPrefix = "filtered";
    public const string EnvelopeContentType = "application/x-protobuf; proto=telemetry.v1.Envelope";

    private readonly string _prefix = options.IsConfigured ? options.TopicPrefix : LocalPrefix;
    private readonly bool _envelope = options.Envelope == "protobuf";
    private readonly ConcurrentDictionary<StreamPurpose, Tags> _tags = new();

    public UpstreamMessage Encode(in MinimizedOutput output, CompiledStream stream, DateTimeOffset receivedAt)
    {
        var tags = _tags.GetOrAdd(output.Tags, static (purpose, prefix) => Tags.For(purpose, prefix), _prefix);
        var topic = string.Concat(tags.TopicPrefix, Encoding.UTF8.GetString(output.Topic.Span));
        byte[] payload;
        if (_envelope)
        {
            var envelope = new Envelope
            {
                Purpose = tags.Purpose,
                LegalBasis = tags.LegalBasis,
                Policy = output.Tags.PolicyTag,
                Retention = output.Tags.Retention,
                ContentType = stream.Format.ContentType(),
                Payload = ByteString.CopyFrom(output.Payload.Span),
                GatewayId = gatewayId,
                ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
                Stream = stream.Name,
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
            output.Tags.PolicyTag, output.Tags.Retention, tags.ExpirySeconds, stream.Name);
    }

    /// <summary>The strings of one stream purpose's tags, computed once.</summary>
    private sealed record Tags(string TopicPrefix, string Purpose, string LegalBasis, string Categories, IReadOnlyList<string> CategoryList, uint ExpirySeconds)
    {
        public static Tags For(StreamPurpose purpose, string prefix)
        {
            var categories = purpose.Categories.Ids();
            return new Tags(
                $"{prefix}/{purpose.Purpose.Id()}/",
                purpose.Purpose.Id(),
                purpose.LegalBasis.Id(),
                string.Join(',', categories),
                categories,
                (uint)Math.Min(uint.MaxValue, purpose.RetentionPeriod.TotalSeconds));
        }
    }
}
