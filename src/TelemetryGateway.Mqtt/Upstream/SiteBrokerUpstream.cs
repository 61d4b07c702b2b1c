using MQTTnet.Server;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// With no upstream configured, outputs are published on the gateway's own broker under <c>filtered/{purpose}/...</c>,
/// so a cloud ingestion client can subscribe there directly.
/// </summary>
internal sealed class SiteBrokerUpstream(MqttServer server) : IUpstream
{
    /// <summary>The sender id of the gateway's own publishes, so that the ingress never minimizes its own outputs.</summary>
    public const string SenderClientId = "$telemetry-gateway";

    public int Window => 256;

    public bool IsConnected => server.IsStarted;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        while (!server.IsStarted)
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    public async Task<PublishResult> PublishAsync(UpstreamMessage message, CancellationToken cancellationToken)
    {
        if (!server.IsStarted)
        {
            return PublishResult.ConnectionLost;
        }
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message.ToApplicationMessage()) { SenderClientId = SenderClientId }, cancellationToken);
        return PublishResult.Acknowledged;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
