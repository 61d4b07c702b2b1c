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
    }
}
