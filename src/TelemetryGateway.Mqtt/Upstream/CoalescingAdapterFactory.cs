using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace TelemetryGateway.Mqtt.Upstream;

/// <summary>
/// Builds the upstream client's connection as MQTTnet's own factory does (its TCP channel, with TLS when configured),
/// wrapped in a <see cref="CoalescingChannel"/>. MQTTnet asks for a new adapter on every connect, so each connection
/// gets a fresh channel.
/// </summary>
internal sealed class CoalescingAdapterFactory : IMqttClientAdapterFactory
{
    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChannelOptions is not MqttClientTcpOptions)
        {
            throw new NotSupportedException("The upstream connects over TCP (mqtt:// or mqtts://).");
        }
        var channel = new CoalescingChannel(new MqttTcpChannel(options));
        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new MqttChannelAdapter(channel, formatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}
