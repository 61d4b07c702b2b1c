using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Mqtt;

/// <summary><c>Gateway:Site</c>: where the site is.</summary>
public sealed record SiteOptions
{
    /// <summary>
    /// The region the site's data comes from (notice §7): an output goes to an upstream of another region only when its
    /// purpose's residency lists that region and names a safeguard. <c>eea</c> by default, the notice's home.
    /// </summary>
    public string Region { get; init; } = "eea";

    public IEnumerable<string> Validate(string path)
    {
        if (!Residency.IsRegionId(Region))
        {
            yield return $"{path}:Region must be a region id (lower-case letters, digits and '-', 2 to 32 characters; the notice's: {string.Join(", ", Residency.KnownRegions)})";
        }
    }
}

/// <summary>
/// <c>Gateway:Upstreams:{name}</c>: one cloud broker per region (notice §7). Its connection is its own; the topic
/// prefix, envelope, in-flight window, session expiry and reconnect delays are those of <c>Gateway:Upstream</c>.
/// </summary>
public sealed record RegionalUpstreamOptions
{
    /// <summary><c>mqtt://host:port</c> or <c>mqtts://host:port</c>; required.</summary>
    public string? Url { get; init; }

    /// <summary>The region the upstream lies in: <c>eea</c>, <c>uk</c>, <c>us</c>, <c>cn</c> or an operator's own name; one upstream per region.</summary>
    public string? Region { get; init; }

    /// <summary>Its persistent session's client id; unset: <c>Gateway:Upstream:ClientId</c> followed by <c>-{name}</c>.</summary>
    public string? ClientId { get; init; }

    public string? Username { get; init; }
    public string? Password { get; init; }

    /// <summary>PEM file of the CA that signed the upstream's certificate (mqtts only); unset: the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>This upstream's options: its own connection over the shared settings of <paramref name="shared"/>.</summary>
    public UpstreamOptions Resolve(UpstreamOptions shared, string name)
    {
        ArgumentNullException.ThrowIfNull(shared);
        return shared with { Url = Url, Username = Username, Password = Password, CaFile = CaFile, ClientId = ClientId ?? $"{shared.ClientId}-{name}" };
    }
}

/// <summary>One upstream outputs may be delivered to: its name (in the configuration), its region and its options.</summary>
public sealed record UpstreamRoute(string Name, string Region, UpstreamOptions Options);

/// <summary>
/// The upstreams and the site's region together (notice §7): <c>Gateway:Upstreams</c> names one upstream per region;
/// with none named, the single <c>Gateway:Upstream</c> (or, without its URL, the site broker's <c>filtered/...</c>
/// topics) is the upstream of the site's region.
/// </summary>
public static class Residencies
{
    /// <summary>The name of the single <c>Gateway:Upstream</c> among the routes.</summary>
    public const string SingleUpstreamName = "upstream";

    public static IReadOnlyList<UpstreamRoute> Routes(UpstreamOptions upstream, IReadOnlyDictionary<string, RegionalUpstreamOptions>? upstreams, SiteOptions site)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(site);
        if (upstreams is null || upstreams.Count == 0)
        {
            return [new UpstreamRoute(SingleUpstreamName, site.Region, upstream)];
        }
        return [.. upstreams.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => new UpstreamRoute(u.Key, u.Value.Region ?? "", u.Value.Resolve(upstream, u.Key)))];
    }

    /// <summary>Every problem of <c>Gateway:Upstreams</c> with <c>Gateway:Upstream</c> and <c>Gateway:Site</c>, at once.</summary>
    public static IEnumerable<string> Validate(UpstreamOptions upstream, IReadOnlyDictionary<string, RegionalUpstreamOptions>? upstreams, SiteOptions site)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(site);
        foreach (var error in site.Validate("Gateway:Site"))
        {
            yield return error;
        }
        if (upstreams is null || upstreams.Count == 0)
        {
            yield break;
        }
        if (upstream.IsConfigured)
        {
            yield return "Gateway:Upstream:Url cannot be combined with Gateway:Upstreams: name that upstream under Gateway:Upstreams with its Region "
                + "(Gateway:Upstream keeps the settings they share: TopicPrefix, Envelope, InFlightWindow, SessionExpiry, reconnect delays)";
        }
        var regions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, options) in upstreams.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            var path = $"Gateway:Upstreams:{name}";
            if (!Residency.IsRegionId(name.ToLowerInvariant()))
            {
                yield return $"{path}: the name must be letters, digits and '-', 2 to 32 characters";
            }
            if (options.Region is null || !Residency.IsRegionId(options.Region))
            {
                yield return $"{path}:Region is required: a region id such as {string.Join(", ", Residency.KnownRegions)} or an operator's own (lower-case letters, digits and '-')";
            }
            else if (regions.TryGetValue(options.Region, out var other))
            {
                yield return $"{path}:Region '{options.Region}' is already the region of Gateway:Upstreams:{other}: one upstream per region";
            }
            else
            {
                regions.Add(options.Region, name);
            }
            if (string.IsNullOrWhiteSpace(options.Url))
            {
                yield return $"{path}:Url is required";
            }
            var resolved = options.Resolve(upstream, name);
            foreach (var error in resolved.Validate(path))
            {
                // The shared settings are reported once, under Gateway:Upstream; only this upstream's own are repeated here.
                if (error.StartsWith($"{path}:Url", StringComparison.Ordinal) || error.StartsWith($"{path}:Password", StringComparison.Ordinal)
                    || error.StartsWith($"{path}:CaFile", StringComparison.Ordinal) || error.StartsWith($"{path}:ClientId", StringComparison.Ordinal))
                {
                    yield return error;
                }
            }
        }
    }
}
