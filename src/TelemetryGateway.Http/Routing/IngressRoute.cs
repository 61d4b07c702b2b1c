using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Http.Routing;

/// <summary>
/// What the gateway does with one YARP route's request bodies: the stream and purpose they feed (the policy decides
/// their format and rules, and its <see cref="Core.Pipeline.OutputTags"/> the tags every forwarded request carries),
/// and the route's limits.
/// </summary>
internal sealed class IngressRoute
{
    public IngressRoute(
        string routeId, CompiledStream stream, StreamPurpose purpose, long maxBodyBytes, string deviceRouteValue,
        int maxGzipRatio = IngressRouteCatalog.DefaultMaxGzipRatio, TimeSpan? maxRequestTime = null)
    {
        MaxGzipRatio = maxGzipRatio;
        MaxRequestTime = maxRequestTime ?? TimeSpan.FromSeconds(IngressRouteCatalog.DefaultMaxRequestSeconds);
        RouteId = routeId;
        Stream = stream;
        Purpose = purpose;
        MaxBodyBytes = maxBodyBytes;
        DeviceRouteValue = deviceRouteValue;
        PurposeId = purpose.Purpose.Id();
    }

    public string RouteId { get; }
    public CompiledStream Stream { get; }
    public StreamPurpose Purpose { get; }
    public string PurposeId { get; }

    /// <summary>The policy's format of the stream's payloads, which decides how bodies are minimized.</summary>
    public PayloadFormat Format => Stream.Format;

    public string FormatId => Stream.Format.Id();

    /// <summary>
    /// True when bodies stream through the minimizer block by block (the format <see cref="PayloadFormats.Streams"/>);
    /// the others are read whole, up to <see cref="MaxBodyBytes"/>, and minimized at their end.
    /// </summary>
    public bool Streams => Stream.Format.Streams();

    /// <summary>Limit on the body as received and, for gzip bodies, on the decompressed body too.</summary>
    public long MaxBodyBytes { get; }

    /// <summary>A gzip body may expand to at most this many times the compressed bytes (past the first MiB).</summary>
    public int MaxGzipRatio { get; }

    /// <summary>Time a request may take to be read and rewritten (its CPU, bounded by time); past it, 408.</summary>
    public TimeSpan MaxRequestTime { get; }

    /// <summary>
    /// The route value (from YARP's <c>Match:Path</c>, e.g. <c>{sn}</c>) that names the device: the serial a log's
    /// scrubber looks for, and the device the pipeline's gates decide for.
    /// </summary>
    public string DeviceRouteValue { get; }

    /// <summary>The region of the route's cluster (notice §7), sent as <c>X-Destination-Region</c>.</summary>
    public string Region { get; init; } = "";

    /// <summary>The safeguard of the transfer to <see cref="Region"/> (<c>none</c> within the site's region), sent as <c>X-Transfer-Safeguard</c>.</summary>
    public string Safeguard { get; init; } = "";
}

/// <summary>Header names of the HTTP ingress.</summary>
internal static class IngressHeaders
{
    public const string Purpose = "X-Purpose";
    public const string LegalBasis = "X-Legal-Basis";
    public const string DataCategories = "X-Data-Categories";
    public const string Policy = "X-Policy";
    public const string Retention = "X-Retention";
    public const string DestinationRegion = "X-Destination-Region";
    public const string TransferSafeguard = "X-Transfer-Safeguard";
    public const string ApiKey = "X-Api-Key";
    public const string DeviceSerial = "X-Device-Serial";
}
