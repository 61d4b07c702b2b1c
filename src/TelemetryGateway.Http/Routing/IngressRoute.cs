using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Http.Routing;

/// <summary>
/// What the gateway does with one YARP route's request bodies: the stream purpose they are for, their format, the
/// body limit, and the tags every forwarded request carries.
/// </summary>
internal sealed class IngressRoute
{
    public IngressRoute(
        string routeId, CompiledStream stream, StreamPurpose purpose, BodyFormat format, long maxBodyBytes, string deviceRouteValue, LogScrubRules logRules,
        int maxGzipRatio = IngressRouteCatalog.DefaultMaxGzipRatio, TimeSpan? maxRequestTime = null)
    {
        MaxGzipRatio = maxGzipRatio;
        MaxRequestTime = maxRequestTime ?? TimeSpan.FromSeconds(IngressRouteCatalog.DefaultMaxRequestSeconds);
        RouteId = routeId;
        Stream = stream;
        Purpose = purpose;
        Format = format;
        MaxBodyBytes = maxBodyBytes;
        DeviceRouteValue = deviceRouteValue;
        LogRules = logRules;
        PurposeId = purpose.Purpose.Id();
        FormatId = format.ToString().ToLowerInvariant();
        var tags = purpose.OutputTags;
        Tags =
        [
            new(IngressHeaders.Purpose, tags.Purpose),
            new(IngressHeaders.LegalBasis, tags.LegalBasis),
            new(IngressHeaders.DataCategories, tags.Categories),
            new(IngressHeaders.Policy, tags.Policy),
            new(IngressHeaders.Retention, tags.Retention),
        ];
    }

    public string RouteId { get; }
    public CompiledStream Stream { get; }
    public StreamPurpose Purpose { get; }
    public BodyFormat Format { get; }
    public string PurposeId { get; }
    public string FormatId { get; }

    /// <summary>Limit on the body as received and, for gzip bodies, on the decompressed body too.</summary>
    public long MaxBodyBytes { get; }

    /// <summary>A gzip body may expand to at most this many times the compressed bytes (past the first MiB).</summary>
    public int MaxGzipRatio { get; }

    /// <summary>Time a request may take to be read and rewritten (its CPU, bounded by time); past it, 408.</summary>
    public TimeSpan MaxRequestTime { get; }

    /// <summary>The route value (from YARP's <c>Match:Path</c>, e.g. <c>{sn}</c>) that names the device, for text logs.</summary>
    public string DeviceRouteValue { get; }

    /// <summary>How text logs of this route are scrubbed (the serial's handling from the route's metadata).</summary>
    public LogScrubRules LogRules { get; }

    /// <summary>The tag headers, computed once.</summary>
    public KeyValuePair<string, string>[] Tags { get; }
}

/// <summary>Header names of the HTTP ingress.</summary>
internal static class IngressHeaders
{
    public const string Purpose = "X-Purpose";
    public const string LegalBasis = "X-Legal-Basis";
    public const string DataCategories = "X-Data-Categories";
    public const string Policy = "X-Policy";
    public const string Retention = "X-Retention";
    public const string ApiKey = "X-Api-Key";
    public const string DeviceSerial = "X-Device-Serial";
}
