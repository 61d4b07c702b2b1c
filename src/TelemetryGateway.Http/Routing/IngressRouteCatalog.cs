using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Http.Routing;

/// <summary>
/// The routes of YARP's <c>ReverseProxy</c> section, each resolved against the policy from its metadata
/// (<c>TelemetryGateway.Stream</c>, <c>TelemetryGateway.Purpose</c>, <c>TelemetryGateway.MaxBodyBytes</c>,
/// <c>TelemetryGateway.MaxGzipRatio</c>, <c>TelemetryGateway.MaxRequestSeconds</c>, <c>TelemetryGateway.DeviceRouteValue</c>,
/// <c>TelemetryGateway.Region</c>: the region of the route's cluster, the site's by default; the purpose's residency
/// must allow it from the site's region, notice §7).
/// A route names only the stream it feeds: the policy decides the body's format and how it is minimized, so a route
/// that tries to set either (<c>TelemetryGateway.BodyFormat</c>, <c>TelemetryGateway.Serial</c>) is an error. Built
/// once per policy generation, with every error of every route reported at once; immutable afterwards.
/// </summary>
internal sealed partial class IngressRouteCatalog
{
    public const string SectionName = "ReverseProxy";
    public const string StreamKey = "TelemetryGateway.Stream";
    public const string PurposeKey = "TelemetryGateway.Purpose";
    public const string FormatKey = "TelemetryGateway.BodyFormat";
    public const string MaxBodyBytesKey = "TelemetryGateway.MaxBodyBytes";
    public const string DeviceRouteValueKey = "TelemetryGateway.DeviceRouteValue";
    public const string SerialKey = "TelemetryGateway.Serial";
    public const string RegionKey = "TelemetryGateway.Region";

    /// <summary>Default limit of a body read whole before it is minimized (formats that do not stream: JSON, SOLIX, protobuf).</summary>
    public const long DefaultMaxJsonBytes = 1024 * 1024;
    public const long DefaultMaxImageBytes = 32L * 1024 * 1024;
    public const long DefaultMaxTextBytes = 4L * 1024 * 1024 * 1024;
    public const int DefaultMaxGzipRatio = 100;
    public const int DefaultMaxRequestSeconds = 300;
    public const string MaxGzipRatioKey = "TelemetryGateway.MaxGzipRatio";
    public const string MaxRequestSecondsKey = "TelemetryGateway.MaxRequestSeconds";

    private readonly FrozenDictionary<string, IngressRoute> _routes;

    private IngressRouteCatalog(Dictionary<string, IngressRoute> routes, string siteRegion)
    {
        _routes = routes.ToFrozenDictionary(StringComparer.Ordinal);
        SiteRegion = siteRegion;
    }

    /// <summary>The site's region the routes were checked against (notice §7); a reloaded policy is checked against it too.</summary>
    public string SiteRegion { get; }

    public int Count => _routes.Count;

    public IEnumerable<IngressRoute> Routes => _routes.Values;

    public IngressRoute? Find(string routeId) => _routes.GetValueOrDefault(routeId);

    /// <summary>Reads and checks every route of <paramref name="reverseProxy"/>; the catalog is null when any has an error.</summary>
    public static (IngressRouteCatalog? Catalog, IReadOnlyList<string> Errors) Build(IConfigurationSection reverseProxy, CompiledPolicy policy, string siteRegion = "eea")
    {
        ArgumentNullException.ThrowIfNull(reverseProxy);
        ArgumentNullException.ThrowIfNull(policy);
        var errors = new List<string>();
        var routes = new Dictionary<string, IngressRoute>(StringComparer.Ordinal);
        foreach (var section in reverseProxy.GetSection("Routes").GetChildren())
        {
            var routeId = section["RouteId"] ?? section.Key;
            var path = $"{SectionName}:Routes:{section.Key}";
            var clusterId = section["ClusterId"];
            if (string.IsNullOrWhiteSpace(clusterId) || !reverseProxy.GetSection("Clusters").GetSection(clusterId).GetChildren().Any())
            {
                errors.Add($"{path}:ClusterId must name a cluster of {SectionName}:Clusters");
            }
            var route = BuildRoute(section, routeId, path, policy, siteRegion, errors);
            if (route is not null)
            {
                routes[routeId] = route;
            }
        }
        return (errors.Count == 0 ? new IngressRouteCatalog(routes, siteRegion) : null, errors);
    }

    private static IngressRoute? BuildRoute(IConfigurationSection section, string routeId, string path, CompiledPolicy policy, string siteRegion, List<string> errors)
    {
        var metadata = section.GetSection("Metadata");
        var errorCount = errors.Count;
        var streamName = metadata[StreamKey];
        CompiledStream? stream = null;
        if (string.IsNullOrWhiteSpace(streamName))
        {
            errors.Add($"{path}:Metadata:{StreamKey} must name a stream of the policy ({string.Join(", ", policy.Streams.Select(s => s.Name))})");
        }
        else
        {
            stream = policy.Streams.FirstOrDefault(s => s.Name == streamName);
            if (stream is null)
            {
                errors.Add($"{path}:Metadata:{StreamKey}: '{streamName}' is not a stream of policy {policy.Tag} ({string.Join(", ", policy.Streams.Select(s => s.Name))})");
            }
        }
        var purpose = stream is null ? null : ResolvePurpose(stream, metadata[PurposeKey], path, errors);
        // A consent-based entry is allowed: the gates decide per request for the device the request names (its route
        // value or X-Device-Serial header), and a request naming none has no consent on record, so it is refused (403).
        if (purpose?.Aggregate is not null)
        {
            errors.Add($"{path}:Metadata:{PurposeKey}: purpose entry '{purpose.Name}' of stream '{stream!.Name}' releases anonymous aggregates, which are fed over MQTT only");
        }
        if (metadata[FormatKey] is { } formatText)
        {
            errors.Add(stream is null
                ? $"{path}:Metadata:{FormatKey}: a route names only the stream it feeds; the body format ('{formatText}') is the policy's stream format"
                : $"{path}:Metadata:{FormatKey}: a route names only the stream it feeds; the body format is the policy's ('{stream.Format.Id()}' for stream '{stream.Name}'): remove {FormatKey}, or route to a stream of format '{formatText}'");
        }
        if (metadata[SerialKey] is not null)
        {
            errors.Add($"{path}:Metadata:{SerialKey}: a route cannot change how a body is minimized; the serial's handling is the policy's (a text stream's purpose's \"text\" rules)");
        }
        var streams = stream?.Format.Streams() ?? false;
        var maxBodyBytes = stream?.Format switch
        {
            PayloadFormat.Image => DefaultMaxImageBytes,
            PayloadFormat.Text => DefaultMaxTextBytes,
            _ => DefaultMaxJsonBytes,
        };
        if (metadata[MaxBodyBytesKey] is { } limitText)
        {
            if (!long.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out maxBodyBytes) || maxBodyBytes < 1)
            {
                errors.Add($"{path}:Metadata:{MaxBodyBytesKey} must be a positive number of bytes");
            }
            else if (stream is not null && !streams && maxBodyBytes > int.MaxValue)
            {
                errors.Add($"{path}:Metadata:{MaxBodyBytesKey}: {stream.Format.Id()} bodies are read whole before they are minimized, so their limit is at most {int.MaxValue} bytes");
            }
        }
        var maxGzipRatio = DefaultMaxGzipRatio;
        if (metadata[MaxGzipRatioKey] is { } ratioText
            && (!int.TryParse(ratioText, NumberStyles.None, CultureInfo.InvariantCulture, out maxGzipRatio) || maxGzipRatio is < 2 or > 100_000))
        {
            errors.Add($"{path}:Metadata:{MaxGzipRatioKey} must be a whole number between 2 and 100000");
        }
        var maxRequestSeconds = DefaultMaxRequestSeconds;
        if (metadata[MaxRequestSecondsKey] is { } secondsText
            && (!int.TryParse(secondsText, NumberStyles.None, CultureInfo.InvariantCulture, out maxRequestSeconds) || maxRequestSeconds is < 1 or > 86_400))
        {
            errors.Add($"{path}:Metadata:{MaxRequestSecondsKey} must be a whole number of seconds between 1 and 86400");
        }
        var deviceRouteValue = metadata[DeviceRouteValueKey] ?? "sn";
        var region = metadata[RegionKey] ?? siteRegion;
        var safeguard = Residency.NoTransfer;
        if (!Residency.IsRegionId(region))
        {
            errors.Add($"{path}:Metadata:{RegionKey} must be a region id (lower-case letters, digits and '-'; the notice's: {string.Join(", ", Residency.KnownRegions)})");
        }
        else if (purpose is not null && !purpose.Residency.Allows(region, siteRegion, out safeguard))
        {
            errors.Add($"{path}:Metadata:{RegionKey}: purpose '{purpose.Purpose.Id()}' of stream '{stream!.Name}' may not go to region '{region}' from the site's region '{siteRegion}' "
                + "(its residency in the policy lists the regions, and a transfer needs a safeguard)");
        }
        CheckForwardedPath(section, path, errors);
        if (errors.Count > errorCount)
        {
            return null;
        }
        return new IngressRoute(routeId, stream!, purpose!, maxBodyBytes, deviceRouteValue, maxGzipRatio, TimeSpan.FromSeconds(maxRequestSeconds))
        {
            Region = region,
            Safeguard = safeguard,
        };
    }

    private static StreamPurpose? ResolvePurpose(CompiledStream stream, string? purposeId, string path, List<string> errors)
    {
        var available = string.Join(", ", stream.Purposes.Select(p => p.Name));
        if (string.IsNullOrWhiteSpace(purposeId))
        {
            if (stream.Purposes.Count == 1)
            {
                return stream.Purposes[0];
            }
            errors.Add($"{path}:Metadata:{PurposeKey} is required: stream '{stream.Name}' has several purposes ({available}); one request is forwarded for one purpose");
            return null;
        }
        // A route names a purpose entry of the stream: its name, which is the purpose id unless two entries share one.
        var purpose = stream.Purposes.FirstOrDefault(p => p.Name == purposeId);
        if (purpose is null)
        {
            errors.Add($"{path}:Metadata:{PurposeKey}: '{purposeId}' is not a purpose of stream '{stream.Name}' ({available})");
        }
        return purpose;
    }

    /// <summary>
    /// A value captured from the incoming path (a serial, an installer id) would reach the cloud in the forwarded path,
    /// which YARP copies as it is unless a transform sets it: such a route needs a <c>PathSet</c> or <c>PathPattern</c>
    /// transform that leaves the captured values out.
    /// </summary>
    private static void CheckForwardedPath(IConfigurationSection section, string path, List<string> errors)
    {
        var matchPath = section["Match:Path"] ?? "";
        var captured = RouteValue().Matches(matchPath).Select(m => m.Groups[1].Value).ToList();
        if (captured.Count == 0)
        {
            return;
        }
        string? forwardedPath = null;
        foreach (var transform in section.GetSection("Transforms").GetChildren())
        {
            forwardedPath ??= transform["PathSet"] ?? transform["PathPattern"];
            if (transform["PathPrefix"] is not null || transform["PathRemovePrefix"] is not null)
            {
                forwardedPath ??= matchPath;
            }
        }
        forwardedPath ??= matchPath;
        foreach (var value in RouteValue().Matches(forwardedPath).Select(m => m.Groups[1].Value))
        {
            if (captured.Contains(value))
            {
                errors.Add($"{path}: the forwarded path would carry the route value '{value}' to the cloud; add a PathSet or PathPattern transform without it");
            }
        }
    }

    // {name}, {name?}, {**name}, {*name}, {name:constraint}: the name.
    [GeneratedRegex(@"\{\**([A-Za-z0-9_]+)[^}]*\}")]
    private static partial Regex RouteValue();
}
