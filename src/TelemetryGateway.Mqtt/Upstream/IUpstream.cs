namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>Where outputs are delivered: the cloud broker, or (with no upstream configured) the site broker's <c>filtered/...</c> topics.</summary>
internal interface IUpstream : IAsyncDisposable
{
    /// <summary>Publishes in flight at once.</summary>
    int Window { get; }

    bool IsConnected { get; }

    /// <summary>Connects, retrying with backoff until it succeeds or <paramref name="cancellationToken"/> fires.</summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Publishes at QoS 1: acknowledged, a transient failure (try again later) or rejected (never resend as it is).</summary>
    Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken);
}
