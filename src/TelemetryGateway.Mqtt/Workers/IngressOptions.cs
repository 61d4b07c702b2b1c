namespace TelemetryGateway.Mqtt.Workers;

/// <summary>
/// <c>Gateway:Ingress</c>: where the gateway takes the messages it minimizes. <c>site-broker</c> (the default) runs the
/// embedded broker devices connect to; <c>mqtt-shared</c> and <c>amqp</c> make the gateway one of N stateless workers
/// consuming competitively from an existing clustered broker, with the embedded broker off.
/// </summary>
public sealed record IngressOptions
{
    public const string SiteBroker = "site-broker";
    public const string MqttShared = "mqtt-shared";
    public const string Amqp = "amqp";

    public string Mode { get; init; } = SiteBroker;

    /// <summary>
    /// One or more broker URLs, comma-separated: <c>mqtt://host:port</c> or <c>mqtts://host:port</c> (mqtt-shared),
    /// <c>amqp://user:pass@host:port/vhost</c> or <c>amqps://...</c> (amqp). The worker fails over among them in order.
    /// </summary>
    public string? Url { get; init; }

    /// <summary>The quorum queue to consume from (amqp).</summary>
    public string? Queue { get; init; }

    /// <summary>The shared-subscription group (mqtt-shared): every worker of one group shares the stream.</summary>
    public string Group { get; init; } = "telemetry-gateway";

    /// <summary>The worker's stable client id (its persistent session on the broker); unset: the gateway id.</summary>
    public string? ClientId { get; init; }

    /// <summary>Messages handed to this worker and not yet acknowledged, at most (MQTT Receive Maximum, AMQP prefetch).</summary>
    public int Prefetch { get; init; } = 64;

    /// <summary>
    /// amqp: how many times one message may be delivered while its outputs cannot be stored (the outbox unavailable)
    /// before it is rejected to the dead-letter exchange instead of requeued; counted by the quorum queue's
    /// <c>x-delivery-count</c> header, so the bound holds across workers and restarts.
    /// </summary>
    public int MaxDeliveries { get; init; } = 20;

    /// <summary>How long the broker keeps the worker's session, and the messages queued for it, while it is away (mqtt-shared).</summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromHours(1);

    /// <summary>MQTT credentials (mqtt-shared); AMQP credentials are part of the URL.</summary>
    public string? Username { get; init; }
    public string? Password { get; init; }

    /// <summary>PEM file of the CA that signed the broker's certificate (mqtts, amqps); unset: the system store.</summary>
    public string? CaFile { get; init; }

    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>True for the embedded broker (the default); false for the worker modes.</summary>
    public bool IsSiteBroker => Mode == SiteBroker;

    /// <summary>The configured URLs, in failover order (empty when none or when one does not parse).</summary>
    public IReadOnlyList<Uri> Endpoints
    {
        get
        {
            var endpoints = new List<Uri>();
            foreach (var part in (Url ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!Uri.TryCreate(part, UriKind.Absolute, out var uri))
                {
                    return [];
                }
                endpoints.Add(uri);
            }
            return endpoints;
        }
    }

    /// <summary>The client id the worker uses: the configured one, else the gateway id.</summary>
    public string EffectiveClientId(string gatewayId) => string.IsNullOrWhiteSpace(ClientId) ? gatewayId : ClientId;

    /// <summary>
    /// A worker's upstream client id: the configured one, or, left at the default (<c>telemetry-gateway</c>), the
    /// worker's own client id with <c>-upstream</c>. Two workers under one upstream client id would take each other's
    /// session over on the cloud broker, each disconnecting the other in turn.
    /// </summary>
    public string UpstreamClientId(string configured, string gatewayId) =>
        configured == s_defaultUpstreamClientId ? $"{EffectiveClientId(gatewayId)}-upstream" : configured;

    /// <summary>
    /// An upstream client id set explicitly for a worker must contain the worker's own client id, which is distinct per
    /// worker: one id copied into every worker's configuration is the mistake this catches.
    /// </summary>
    public string? UpstreamClientIdError(string configured, string gatewayId)
    {
        var own = EffectiveClientId(gatewayId);
        return configured == s_defaultUpstreamClientId || configured.Contains(own, StringComparison.Ordinal)
            ? null
            : $"Gateway:Upstream:ClientId must contain the worker's own client id (Gateway:Ingress:ClientId, else Gateway:GatewayId) so that workers do not take each other's upstream session; leave it unset to use '{own}-upstream'";
    }

    private static readonly string s_defaultUpstreamClientId = new TelemetryGateway.Mqtt.UpstreamOptions().ClientId;

    /// <summary>Every problem at once; <paramref name="upstreamConfigured"/>: the worker modes need an upstream, having no broker of their own.</summary>
    public IEnumerable<string> Validate(string path, bool upstreamConfigured)
    {
        if (Mode is not (SiteBroker or MqttShared or Amqp))
        {
            yield return $"{path}:Mode must be '{SiteBroker}', '{MqttShared}' or '{Amqp}'";
            yield break;
        }
        if (IsSiteBroker)
        {
            yield break;
        }
        string[] schemes = Mode == Amqp ? ["amqp", "amqps"] : ["mqtt", "mqtts"];
        var parts = (Url ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            yield return $"{path}:Url is required in mode '{Mode}' (one or more {schemes[0]}:// URLs, comma-separated)";
        }
        for (var i = 0; i < parts.Length; i++)
        {
            // The URL itself is not echoed: an AMQP URL carries a password.
            if (!Uri.TryCreate(parts[i], UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme) || string.IsNullOrEmpty(uri.Host))
            {
                yield return $"{path}:Url: entry {i + 1} must look like {schemes[0]}://host:port or {schemes[1]}://host:port";
            }
            else if (Mode == MqttShared && !string.IsNullOrEmpty(uri.UserInfo))
            {
                yield return $"{path}:Url: entry {i + 1} must not carry credentials; use {path}:Username and {path}:Password";
            }
        }
        if (Mode == Amqp && string.IsNullOrWhiteSpace(Queue))
        {
            yield return $"{path}:Queue is required in mode '{Amqp}'";
        }
        if (Mode == MqttShared && (string.IsNullOrWhiteSpace(Group) || Group.AsSpan().IndexOfAny("/+#") >= 0))
        {
            yield return $"{path}:Group must not be empty nor contain '/', '+' or '#'";
        }
        if (ClientId is not null && (string.IsNullOrWhiteSpace(ClientId) || ClientId.Length > 128))
        {
            yield return $"{path}:ClientId must not be blank and at most 128 characters";
        }
        if (Prefetch is < 1 or > 65535)
        {
            yield return $"{path}:Prefetch must be between 1 and 65535";
        }
        if (MaxDeliveries is < 1 or > 1000)
        {
            yield return $"{path}:MaxDeliveries must be between 1 and 1000";
        }
        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            yield return $"{path}:SessionExpiry must be a non-negative duration";
        }
        if (Password is not null && Username is null)
        {
            yield return $"{path}:Password needs {path}:Username";
        }
        if (CaFile is not null && !File.Exists(CaFile))
        {
            yield return $"{path}:CaFile: file '{CaFile}' does not exist";
        }
        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay)
        {
            yield return $"{path}:ReconnectMinDelay must be positive and not above ReconnectMaxDelay";
        }
        if (!upstreamConfigured)
        {
            yield return $"{path}:Mode '{Mode}' needs Gateway:Upstream:Url: a worker has no broker of its own to publish outputs on";
        }
    }
}
