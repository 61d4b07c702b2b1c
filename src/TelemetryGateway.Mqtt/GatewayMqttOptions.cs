using System.Net;

namespace TelemetryGateway.Mqtt;

/// <summary><c>Gateway:Mqtt</c>: the site broker that devices and the commissioning app connect to.</summary>
public sealed record SiteBrokerOptions
{
    /// <summary>The plain (unencrypted) listener's port; 0: none, only the TLS listener (<c>Gateway:Security:Tls</c>).</summary>
    public int Port { get; init; } = 1883;

    /// <summary>Loopback by default: nothing on the site network can connect until an operator opens it up.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// <c>kestrel</c> (MQTTnet.AspNetCore on Kestrel, System.IO.Pipelines) or <c>tcp</c> (MQTTnet's own TCP listener).
    /// Kestrel by default: both lose some QoS 0 messages a client sends just before disconnecting, MQTTnet's own listener
    /// far more often, though it was about 15% faster at QoS 1 (README, "Transport").
    /// </summary>
    public string Transport { get; init; } = "kestrel";

    /// <summary>Messages queued for one slow local subscriber before the oldest are dropped.</summary>
    public int MaxPendingMessagesPerClient { get; init; } = 10_000;

    public IEnumerable<string> Validate(string path)
    {
        if (Port is < 0 or > 65535)
        {
            yield return $"{path}:Port must be between 1 and 65535 (or 0: no plain listener, TLS only)";
        }
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return $"{path}:BindAddress must be an IP address such as 127.0.0.1 or 0.0.0.0";
        }
        if (Transport is not ("kestrel" or "tcp"))
        {
            yield return $"{path}:Transport must be 'kestrel' or 'tcp'";
        }
        if (MaxPendingMessagesPerClient < 1)
        {
            yield return $"{path}:MaxPendingMessagesPerClient must be at least 1";
        }
    }
}

/// <summary><c>Gateway:Upstream</c>: the cloud broker the minimized outputs go to.</summary>
public sealed record UpstreamOptions
{
    /// <summary>
    /// <c>mqtt://host:port</c> or <c>mqtts://host:port</c>; unset: outputs go to the site broker under <c>filtered/...</c>.
    /// An <c>amqp</c> worker may instead publish to <see cref="Exchange"/> on its cluster: one or more
    /// <c>amqp://user:pass@host:port/vhost</c> (or <c>amqps://</c>) URLs, comma-separated.
    /// </summary>
    public string? Url { get; init; }

    /// <summary>With an <c>amqp://</c> URL: the exchange the outputs are published to (publisher confirms, tags as headers).</summary>
    public string? Exchange { get; init; }

    public string TopicPrefix { get; init; } = "telemetry";
    public string ClientId { get; init; } = "telemetry-gateway";
    public string? Username { get; init; }
    public string? Password { get; init; }

    /// <summary>PEM file of the CA that signed the upstream's certificate (mqtts only); unset: the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary><c>protobuf</c> (the telemetry.v1.Envelope) or <c>none</c> (the minimized payload alone).</summary>
    public string Envelope { get; init; } = "protobuf";

    /// <summary>Publishes awaiting PUBACK at once; lowered to the broker's Receive Maximum when it announces one.</summary>
    public int InFlightWindow { get; init; } = 64;

    /// <summary>How long the upstream keeps the gateway's session (and its unacknowledged QoS 1 messages) while disconnected.</summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromDays(1);

    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>
    /// The backoff's cap: 5 s by default, so that outputs waiting in the outbox go out within seconds of the upstream
    /// coming back (with full jitter, a fleet's reconnects still spread over the cap).
    /// </summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>Gateway:Upstream:Batch</c>: several outputs of one purpose in one publish (off by default).</summary>
    public UpstreamBatchOptions Batch { get; init; } = new();

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Url);

    public Uri? Endpoint => IsConfigured && Uri.TryCreate(Url, UriKind.Absolute, out var uri) ? uri : null;

    public bool UseTls => Endpoint?.Scheme == "mqtts";

    /// <summary>True when the outputs go to an AMQP exchange (an <c>amqp://</c> or <c>amqps://</c> URL).</summary>
    public bool IsAmqp => IsConfigured && (Url!.TrimStart().StartsWith("amqp://", StringComparison.OrdinalIgnoreCase) || Url.TrimStart().StartsWith("amqps://", StringComparison.OrdinalIgnoreCase));

    /// <summary>The AMQP URLs, in failover order (empty unless every entry parses as amqp:// or amqps://).</summary>
    public IReadOnlyList<Uri> AmqpEndpoints
    {
        get
        {
            var endpoints = new List<Uri>();
            foreach (var part in (Url ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
                {
                    return [];
                }
                endpoints.Add(uri);
            }
            return endpoints;
        }
    }

    public IEnumerable<string> Validate(string path)
    {
        if (IsAmqp)
        {
            // The URL itself is not echoed: an AMQP URL carries a password.
            if (AmqpEndpoints.Count == 0)
            {
                yield return $"{path}:Url: every entry must look like amqp://user:pass@host:port/vhost or amqps://...";
            }
            if (string.IsNullOrWhiteSpace(Exchange) || Exchange.Length > 255)
            {
                yield return $"{path}:Exchange is required with an amqp:// URL (the exchange outputs are published to, at most 255 characters)";
            }
            if (Username is not null || Password is not null)
            {
                yield return $"{path}:Username and Password are not used with an amqp:// URL; its credentials are part of the URL";
            }
        }
        else if (IsConfigured)
        {
            var endpoint = Endpoint;
            if (endpoint is null || endpoint.Scheme is not ("mqtt" or "mqtts") || string.IsNullOrEmpty(endpoint.Host))
            {
                yield return $"{path}:Url must look like mqtt://host:port or mqtts://host:port";
            }
            else if (!string.IsNullOrEmpty(endpoint.UserInfo))
            {
                yield return $"{path}:Url must not carry credentials; use {path}:Username and {path}:Password";
            }
            if (Exchange is not null)
            {
                yield return $"{path}:Exchange needs an amqp:// URL";
            }
        }
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.AsSpan().IndexOfAny("+#") >= 0 || TopicPrefix.StartsWith('/') || TopicPrefix.EndsWith('/'))
        {
            yield return $"{path}:TopicPrefix must be a topic without wildcards or leading/trailing '/'";
        }
        if (string.IsNullOrWhiteSpace(ClientId))
        {
            yield return $"{path}:ClientId must not be empty";
        }
        if (Password is not null && Username is null)
        {
            yield return $"{path}:Password needs {path}:Username";
        }
        if (CaFile is not null && !File.Exists(CaFile))
        {
            yield return $"{path}:CaFile: file '{CaFile}' does not exist";
        }
        if (Envelope is not ("protobuf" or "none"))
        {
            yield return $"{path}:Envelope must be 'protobuf' or 'none'";
        }
        if (InFlightWindow is < 1 or > 65535)
        {
            yield return $"{path}:InFlightWindow must be between 1 and 65535";
        }
        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            yield return $"{path}:SessionExpiry must be a non-negative duration";
        }
        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay)
        {
            yield return $"{path}:ReconnectMinDelay must be positive and not above ReconnectMaxDelay";
        }
        foreach (var error in Batch.Validate($"{path}:Batch"))
        {
            yield return error;
        }
        if (Batch.Enabled && Envelope != "protobuf")
        {
            // Without envelopes the tags and the topic of each output exist only as the publish's own properties.
            yield return $"{path}:Batch:Enabled needs {path}:Envelope 'protobuf': a batch is a telemetry.v1.EnvelopeBatch, and without envelopes the outputs would lose their own tags";
        }
        if (Batch.Enabled && IsAmqp)
        {
            yield return $"{path}:Batch:Enabled needs an mqtt:// or mqtts:// upstream; an AMQP exchange gets outputs one by one";
        }
    }
}

/// <summary>
/// <c>Gateway:Upstream:Batch</c>: outputs of one purpose (and the same tags) for one upstream that come within
/// <see cref="Linger"/> go as one publish carrying a <c>telemetry.v1.EnvelopeBatch</c>, up to <see cref="MaxOutputs"/>
/// outputs and <see cref="MaxBytes"/> bytes of batch (lowered to what the upstream's Maximum Packet Size leaves). Each
/// output counts as delivered, and its device gets its PUBACK, only once the batch is acknowledged.
/// </summary>
public sealed record UpstreamBatchOptions
{
    /// <summary>The upper bound of <see cref="MaxBytes"/>: 16 MiB, far below MQTT's largest packet (256 MiB).</summary>
    public const int MaxBytesLimit = 16 * 1024 * 1024;

    public bool Enabled { get; init; }

    /// <summary>How long the first output of a batch waits for others before the batch is sent anyway.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Outputs in one batch at most; a full batch is sent at once.</summary>
    public int MaxOutputs { get; init; } = 64;

    /// <summary>Bytes of <c>EnvelopeBatch</c> in one publish at most; an output that would pass it starts the next batch.</summary>
    public int MaxBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// Send a batch at once when no batch of its purpose (and tags) awaits the upstream's acknowledgement, and the one
    /// collected meanwhile as soon as the last one is acknowledged: the acknowledgements pace the batches, so a quiet
    /// device waits for no linger and a busy gateway still fills its batches. False: every batch waits its linger (or
    /// fills up).
    /// </summary>
    public bool SendWhenIdle { get; init; } = true;

    public IEnumerable<string> Validate(string path)
    {
        if (Linger <= TimeSpan.Zero || Linger > TimeSpan.FromSeconds(1))
        {
            yield return $"{path}:Linger must be positive and at most 1 second (00:00:01)";
        }
        if (MaxOutputs is < 2 or > 4096)
        {
            yield return $"{path}:MaxOutputs must be between 2 and 4096";
        }
        if (MaxBytes is < 1024 or > MaxBytesLimit)
        {
            yield return $"{path}:MaxBytes must be between 1024 and {MaxBytesLimit} (16 MiB)";
        }
    }
}

/// <summary><c>Gateway:Outbox</c>: the durable store between accepting a device's message and the upstream's acknowledgement.</summary>
public sealed record OutboxOptions
{
    /// <summary>Past this many stored outputs, the oldest are dropped (counted and logged, never their payloads).</summary>
    public long MaxMessages { get; init; } = 1_000_000;

    /// <summary>Past this many stored bytes (payloads with their topic and tags), the oldest are dropped.</summary>
    public long MaxBytes { get; init; } = 1L << 30;

    /// <summary>Outputs written in one transaction at most (group commit).</summary>
    public int MaxBatch { get; init; } = 512;

    /// <summary>SQLite synchronous mode: <c>normal</c> survives a crash of the gateway, <c>full</c> also a power loss.</summary>
    public string Synchronous { get; init; } = "normal";

    /// <summary>How long a device's message may wait to be stored before it is refused (the device resends): no store waits forever.</summary>
    public TimeSpan StoreTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A hard bound on the outbox file (0: none but the disk's); reaching it is handled like a full disk.</summary>
    public long MaxFileBytes { get; init; }

    /// <summary>How long a rejected output's payload is kept in the dead letters for a replay; then only its metadata stays.</summary>
    public TimeSpan DeadLetterRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Dead letters kept at most (the oldest go first).</summary>
    public long MaxDeadLetters { get; init; } = 100_000;

    /// <summary>How often expired outputs and dead-letter payloads are cleared while nothing is being delivered.</summary>
    public TimeSpan MaintenanceInterval { get; init; } = TimeSpan.FromSeconds(30);

    public IEnumerable<string> Validate(string path)
    {
        if (MaxMessages < 1)
        {
            yield return $"{path}:MaxMessages must be at least 1";
        }
        if (MaxBytes < 1024)
        {
            yield return $"{path}:MaxBytes must be at least 1024";
        }
        if (MaxBatch is < 1 or > 10_000)
        {
            yield return $"{path}:MaxBatch must be between 1 and 10000";
        }
        if (Synchronous is not ("normal" or "full"))
        {
            yield return $"{path}:Synchronous must be 'normal' or 'full'";
        }
        if (StoreTimeout <= TimeSpan.Zero || StoreTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"{path}:StoreTimeout must be positive and at most 5 minutes";
        }
        if (MaxFileBytes != 0 && MaxFileBytes < 64 * 1024)
        {
            yield return $"{path}:MaxFileBytes must be 0 (no bound) or at least 65536";
        }
        if (DeadLetterRetention < TimeSpan.Zero)
        {
            yield return $"{path}:DeadLetterRetention must not be negative";
        }
        if (MaxDeadLetters < 1)
        {
            yield return $"{path}:MaxDeadLetters must be at least 1";
        }
        if (MaintenanceInterval < TimeSpan.FromMilliseconds(100) || MaintenanceInterval > TimeSpan.FromHours(1))
        {
            yield return $"{path}:MaintenanceInterval must be between 100 ms and 1 hour";
        }
    }
}
