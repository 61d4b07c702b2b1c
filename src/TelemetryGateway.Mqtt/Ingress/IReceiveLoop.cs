using MQTTnet.Server;

namespace TelemetryGateway.Mqtt.Ingress;

/// <summary>
/// Where messages are received, whatever the ingress mode: the site broker, or a worker's consumer of a cluster. What
/// the liveness check and the systemd watchdog look at.
/// </summary>
internal interface IReceiveLoop
{
    /// <summary>True while messages can be received (started, and not stopped or failed).</summary>
    bool IsReceiving { get; }

    /// <summary>What receives, for the health report ("the site broker", "the amqp worker").</summary>
    string Name { get; }
}

/// <summary>The site broker's receive loop: MQTTnet's server, started.</summary>
internal sealed class SiteBrokerReceiveLoop(MqttServer server) : IReceiveLoop
{
    public bool IsReceiving => server.IsStarted;

    public string Name => "the site broker";
}
