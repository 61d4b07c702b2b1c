using System.Net;

namespace TelemetryGateway.Mqtt.Security;

/// <summary>
/// <c>Gateway:Security</c>: who may connect to the site broker (anonymous, username and password, client certificate),
/// over which listener (plain, TLS), and within which limits. The defaults are safe: anonymous access only on a
/// loopback bind.
/// </summary>
public sealed record SecurityOptions
{
    /// <summary>Clients without credentials are accepted (and unrestricted); allowed only on a loopback bind unless overridden.</summary>
    public bool AllowAnonymous { get; init; } = true;

    /// <summary>Explicit override: anonymous access on a non-loopback bind. Off: such a configuration refuses to start.</summary>
    public bool AllowAnonymousOnNetwork { get; init; }

    /// <summary>The credentials file (<c>telemetry-gateway users add</c>); unset: <c>users.json</c> in the data directory.</summary>
    public string? CredentialsFile { get; init; }

    public TlsListenerOptions Tls { get; init; } = new();
    public ConnectionLimitOptions Limits { get; init; } = new();

    public IEnumerable<string> Validate(string path, SiteBrokerOptions broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        if (AllowAnonymous && !AllowAnonymousOnNetwork && IPAddress.TryParse(broker.BindAddress, out var bind) && !IPAddress.IsLoopback(bind))
        {
            yield return $"{path}:AllowAnonymous is on while Gateway:Mqtt:BindAddress is not a loopback address: anyone on the network could "
                + $"publish and read every topic. Turn anonymous access off ({path}:AllowAnonymous=false) and add users, "
                + $"or accept the risk explicitly with {path}:AllowAnonymousOnNetwork=true";
        }
        if (CredentialsFile is { Length: 0 })
        {
            yield return $"{path}:CredentialsFile must not be empty when set";
        }
        foreach (var error in Tls.Validate($"{path}:Tls", broker))
        {
            yield return error;
        }
        foreach (var error in Limits.Validate($"{path}:Limits"))
        {
            yield return error;
        }
    }

    /// <summary>The credentials file in effect.</summary>
    public string CredentialsPath(string dataDirectory) => CredentialsFile ?? Path.Combine(dataDirectory, "users.json");
}

/// <summary><c>Gateway:Security:Tls</c>: the TLS listener (TLS 1.2 and 1.3 only).</summary>
public sealed record TlsListenerOptions
{
    public bool Enabled { get; init; }

    /// <summary>The TLS listener's port, on <c>Gateway:Mqtt:BindAddress</c>.</summary>
    public int Port { get; init; } = 8883;

    /// <summary>The server certificate: a PEM file (with <see cref="KeyFile"/>) or a PFX/PKCS#12 file (with <see cref="CertificatePassword"/>).</summary>
    public string? CertificateFile { get; init; }

    /// <summary>The PEM private key of a PEM certificate; unset: the key is in <see cref="CertificateFile"/>.</summary>
    public string? KeyFile { get; init; }

    public string? CertificatePassword { get; init; }

    /// <summary><c>none</c>, <c>optional</c> (a certificate, when presented, must be valid) or <c>required</c>.</summary>
    public string ClientCertificates { get; init; } = "none";

    /// <summary>PEM file of the CA(s) that sign client certificates; the only trust anchors for them.</summary>
    public string? ClientCaFile { get; init; }

    public bool AcceptsClientCertificates => Enabled && ClientCertificates is "optional" or "required";

    public IEnumerable<string> Validate(string path, SiteBrokerOptions broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        if (!Enabled)
        {
            if (broker.Port == 0)
            {
                yield return "Gateway:Mqtt:Port may be 0 (no plain listener) only when the TLS listener is enabled";
            }
            yield break;
        }
        if (Port is < 1 or > 65535)
        {
            yield return $"{path}:Port must be between 1 and 65535";
        }
        else if (Port == broker.Port)
        {
            yield return $"{path}:Port must differ from Gateway:Mqtt:Port";
        }
        if (string.IsNullOrWhiteSpace(CertificateFile))
        {
            yield return $"{path}:CertificateFile is required when {path}:Enabled is true";
        }
        else if (!File.Exists(CertificateFile))
        {
            yield return $"{path}:CertificateFile: file '{CertificateFile}' does not exist";
        }
        if (KeyFile is not null && !File.Exists(KeyFile))
        {
            yield return $"{path}:KeyFile: file '{KeyFile}' does not exist";
        }
        if (ClientCertificates is not ("none" or "optional" or "required"))
        {
            yield return $"{path}:ClientCertificates must be 'none', 'optional' or 'required'";
        }
        else if (ClientCertificates != "none")
        {
            if (string.IsNullOrWhiteSpace(ClientCaFile))
            {
                yield return $"{path}:ClientCaFile is required when client certificates are accepted";
            }
            else if (!File.Exists(ClientCaFile))
            {
                yield return $"{path}:ClientCaFile: file '{ClientCaFile}' does not exist";
            }
        }
    }
}

/// <summary><c>Gateway:Security:Limits</c>: what one client, one address and all clients together may use.</summary>
public sealed record ConnectionLimitOptions
{
    /// <summary>Largest MQTT packet accepted (fixed header's remaining length); a larger one closes the connection.</summary>
    public int MaxPacketBytes { get; init; } = 1024 * 1024;

    public int MaxConnections { get; init; } = 5000;

    /// <summary>Connections from one non-loopback address (loopback clients are local processes and not counted per address).</summary>
    public int MaxConnectionsPerAddress { get; init; } = 50;

    /// <summary>Sustained publishes per second per client; a token bucket of <see cref="PublishBurst"/> absorbs bursts.</summary>
    public int PublishesPerSecond { get; init; } = 1000;

    public int PublishBurst { get; init; } = 2000;

    /// <summary>Longest topic name or filter, in UTF-8 bytes.</summary>
    public int MaxTopicBytes { get; init; } = 256;

    public int MaxTopicLevels { get; init; } = 12;

    /// <summary>Per policy stream name: the largest payload accepted on that stream's topics (the policy's limit still quarantines).</summary>
    public Dictionary<string, int> MaxPayloadBytesPerStream { get; init; } = new(StringComparer.Ordinal);

    /// <summary>A connection that has not completed CONNECT by then is dropped.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest keep-alive a client may ask for; 0 (no keep-alive) is refused too, so dead connections are noticed.</summary>
    public int MaxKeepAliveSeconds { get; init; } = 600;

    /// <summary>Topic Alias Maximum advertised in CONNACK; an alias above it closes the connection (0 turns aliases off).</summary>
    public int TopicAliasMaximum { get; init; } = 16;

    /// <summary>Longest time a disconnected persistent session is kept, whatever the client asks for (MQTT 3.1.1 sessions too).</summary>
    public TimeSpan MaxSessionExpiry { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Sessions (connected, or persistent and waiting) one authenticated identity may hold at once.</summary>
    public int MaxSessionsPerIdentity { get; init; } = 8;

    /// <summary>Subscriptions one session may hold.</summary>
    public int MaxSubscriptionsPerClient { get; init; } = 100;

    /// <summary>Topic filters in one SUBSCRIBE packet; a larger packet has every filter refused.</summary>
    public int MaxFiltersPerSubscribe { get; init; } = 16;

    /// <summary>Password checks waiting for their turn; a CONNECT beyond it is answered "server busy" at once.</summary>
    public int MaxPendingLogins { get; init; } = 16;

    /// <summary>Password checks waiting or running for one remote address (every address counts, loopback too).</summary>
    public int MaxPendingLoginsPerAddress { get; init; } = 2;

    /// <summary>Failed logins from one address (or for one user name) before it must wait <see cref="LoginBackoff"/>.</summary>
    public int LoginFailuresBeforeBackoff { get; init; } = 3;

    /// <summary>The first wait after too many failures; it doubles with every further failure up to <see cref="MaxLoginBackoff"/>.</summary>
    public TimeSpan LoginBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxLoginBackoff { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Publishes per second for all anonymous clients of one address together (anonymous clients are local processes).</summary>
    public int AnonymousPublishesPerSecond { get; init; } = 50_000;

    public int AnonymousPublishBurst { get; init; } = 100_000;

    /// <summary>
    /// Client ids each role may use, by role name: literal text, <c>{serial}</c> (devices) or <c>{name}</c> (the user name), and
    /// an optional final <c>*</c> for any suffix. Defaults: <c>device</c> <c>{serial}*</c>, <c>installer</c> and <c>cloud</c> <c>{name}*</c>.
    /// </summary>
    public Dictionary<string, string> ClientIdPatterns { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Repeated quarantines of one stream and reason within this interval are one record and one log line with a count.</summary>
    public TimeSpan QuarantineAggregationInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The client id pattern in effect for a role (configured, or the default).</summary>
    public string ClientIdPattern(string role) =>
        ClientIdPatterns.TryGetValue(role, out var pattern) ? pattern : role == "device" ? "{serial}*" : "{name}*";

    public IEnumerable<string> Validate(string path)
    {
        if (MaxPacketBytes is < 1024 or > 256 * 1024 * 1024)
        {
            yield return $"{path}:MaxPacketBytes must be between 1024 and 268435456";
        }
        if (MaxConnections < 1)
        {
            yield return $"{path}:MaxConnections must be at least 1";
        }
        if (MaxConnectionsPerAddress < 1 || MaxConnectionsPerAddress > MaxConnections)
        {
            yield return $"{path}:MaxConnectionsPerAddress must be between 1 and MaxConnections";
        }
        if (PublishesPerSecond < 1)
        {
            yield return $"{path}:PublishesPerSecond must be at least 1";
        }
        if (PublishBurst < 1)
        {
            yield return $"{path}:PublishBurst must be at least 1";
        }
        if (MaxTopicBytes is < 16 or > 65535)
        {
            yield return $"{path}:MaxTopicBytes must be between 16 and 65535";
        }
        if (MaxTopicLevels is < 1 or > 1000)
        {
            yield return $"{path}:MaxTopicLevels must be between 1 and 1000";
        }
        foreach (var (stream, bytes) in MaxPayloadBytesPerStream)
        {
            if (bytes < 1 || bytes > MaxPacketBytes)
            {
                yield return $"{path}:MaxPayloadBytesPerStream:{stream} must be between 1 and MaxPacketBytes";
            }
        }
        if (ConnectTimeout <= TimeSpan.Zero || ConnectTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"{path}:ConnectTimeout must be positive and at most 5 minutes";
        }
        if (MaxKeepAliveSeconds is < 1 or > 65535)
        {
            yield return $"{path}:MaxKeepAliveSeconds must be between 1 and 65535";
        }
        if (TopicAliasMaximum is < 0 or > 1024)
        {
            yield return $"{path}:TopicAliasMaximum must be between 0 and 1024";
        }
        if (MaxSessionExpiry <= TimeSpan.Zero || MaxSessionExpiry > TimeSpan.FromDays(365))
        {
            yield return $"{path}:MaxSessionExpiry must be positive and at most 365 days";
        }
        if (MaxSessionsPerIdentity is < 1 or > 10_000)
        {
            yield return $"{path}:MaxSessionsPerIdentity must be between 1 and 10000";
        }
        if (MaxSubscriptionsPerClient is < 1 or > 100_000)
        {
            yield return $"{path}:MaxSubscriptionsPerClient must be between 1 and 100000";
        }
        if (MaxFiltersPerSubscribe < 1 || MaxFiltersPerSubscribe > MaxSubscriptionsPerClient)
        {
            yield return $"{path}:MaxFiltersPerSubscribe must be between 1 and MaxSubscriptionsPerClient";
        }
        if (MaxPendingLogins is < 1 or > 10_000)
        {
            yield return $"{path}:MaxPendingLogins must be between 1 and 10000";
        }
        if (MaxPendingLoginsPerAddress < 1 || MaxPendingLoginsPerAddress > MaxPendingLogins)
        {
            yield return $"{path}:MaxPendingLoginsPerAddress must be between 1 and MaxPendingLogins";
        }
        if (LoginFailuresBeforeBackoff is < 1 or > 1000)
        {
            yield return $"{path}:LoginFailuresBeforeBackoff must be between 1 and 1000";
        }
        if (LoginBackoff <= TimeSpan.Zero || LoginBackoff > MaxLoginBackoff)
        {
            yield return $"{path}:LoginBackoff must be positive and at most MaxLoginBackoff";
        }
        if (MaxLoginBackoff > TimeSpan.FromHours(1))
        {
            yield return $"{path}:MaxLoginBackoff must be at most 1 hour";
        }
        if (AnonymousPublishesPerSecond < 1)
        {
            yield return $"{path}:AnonymousPublishesPerSecond must be at least 1";
        }
        if (AnonymousPublishBurst < 1)
        {
            yield return $"{path}:AnonymousPublishBurst must be at least 1";
        }
        foreach (var (role, pattern) in ClientIdPatterns)
        {
            if (role is not ("device" or "installer" or "cloud"))
            {
                yield return $"{path}:ClientIdPatterns:{role}: the role must be device, installer or cloud";
                continue;
            }
            if (ClientIdPatternError(role, pattern) is { } error)
            {
                yield return $"{path}:ClientIdPatterns:{role} {error}";
            }
        }
        if (QuarantineAggregationInterval < TimeSpan.Zero || QuarantineAggregationInterval > TimeSpan.FromHours(1))
        {
            yield return $"{path}:QuarantineAggregationInterval must be between 0 (every quarantine its own record) and 1 hour";
        }
    }

    private static string? ClientIdPatternError(string role, string pattern)
    {
        if (string.IsNullOrEmpty(pattern) || pattern == "*")
        {
            return "must name the identity: {serial} (devices) or {name}, with an optional final '*'";
        }
        var body = pattern.EndsWith('*') ? pattern[..^1] : pattern;
        if (body.Contains('*', StringComparison.Ordinal))
        {
            return "may have '*' only at its end";
        }
        var rest = body.Replace("{name}", "", StringComparison.Ordinal).Replace("{serial}", "", StringComparison.Ordinal);
        if (rest.Contains('{', StringComparison.Ordinal) || rest.Contains('}', StringComparison.Ordinal))
        {
            return "knows only the placeholders {serial} and {name}";
        }
        if (role != "device" && body.Contains("{serial}", StringComparison.Ordinal))
        {
            return "may use {serial} only for devices";
        }
        if (!body.Contains("{serial}", StringComparison.Ordinal) && !body.Contains("{name}", StringComparison.Ordinal))
        {
            // A fixed pattern would let every identity of the role squat the same ids.
            return "must contain {serial} or {name}";
        }
        return body.StartsWith('$') ? "must not start with '$' (the gateway's own ids)" : null;
    }
}
