using MQTTnet;
using MQTTnet.Exceptions;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>The configurable limits, each on its own gateway (anonymous loopback clients, MQTT 5 to see reason codes).</summary>
public sealed class LimitsTests
{
    private const string Firmware = "dt/anker_power/A17C0/SN00000000000001/firmware";
    private const string Status = "dt/anker_power/A17C0/SN00000000000001/status";

    /// <summary>Reason codes below 0x80 accept the publish (0x10: accepted, no subscriber yet).</summary>
    private static bool IsAccepted(MqttClientPublishReasonCode code) => (int)code < 0x80;

    [Fact]
    public async Task Publishes_beyond_the_rate_get_quota_exceeded()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory,
            "--Gateway:Security:Limits:AnonymousPublishesPerSecond=1", "--Gateway:Security:Limits:AnonymousPublishBurst=2");
        await using var device = await Client.ConnectAsync(gateway.Port, "rate-1");

        var codes = new List<MqttClientPublishReasonCode>();
        for (var i = 0; i < 5; i++)
        {
            codes.Add((await device.PublishAsync("site/rate", "{}")).ReasonCode);
        }

        Assert.True(IsAccepted(codes[0]), codes[0].ToString());
        Assert.Contains(MqttClientPublishReasonCode.QuotaExceeded, codes);
    }

    [Fact]
    public async Task Topic_with_too_many_levels_gets_topic_name_invalid()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, "--Gateway:Security:Limits:MaxTopicLevels=8");
        await using var device = await Client.ConnectAsync(gateway.Port, "levels-1");

        var result = await device.PublishAsync("a/b/c/d/e/f/g/h/i/j", "{}");

        Assert.Equal(MqttClientPublishReasonCode.TopicNameInvalid, result.ReasonCode);
    }

    [Fact]
    public async Task Payload_above_its_stream_limit_gets_quota_exceeded_while_other_streams_keep_the_general_limit()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, "--Gateway:Security:Limits:MaxPayloadBytesPerStream:firmware=200");
        await using var device = await Client.ConnectAsync(gateway.Port, "payload-1");
        var payload = $$"""{"sn":"SN00000000000001","note":"{{new string('x', 300)}}"}""";

        var firmware = await device.PublishAsync(Firmware, payload);
        var status = await device.PublishAsync(Status, payload);

        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, firmware.ReasonCode);
        Assert.True(IsAccepted(status.ReasonCode), status.ReasonCode.ToString());
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_refused()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, "--Gateway:Security:Limits:MaxConnections=2",
            "--Gateway:Security:Limits:MaxConnectionsPerAddress=2");
        await using var first = await Client.ConnectAsync(gateway.Port, "conn-1");
        await using var second = await Client.ConnectAsync(gateway.Port, "conn-2");

        var third = await Record.ExceptionAsync(() => Client.ConnectAsync(gateway.Port, "conn-3"));

        Assert.True(third is MqttCommunicationException or OperationCanceledException, third?.ToString() ?? "the third connection was accepted");
    }

    [Fact]
    public async Task Unknown_stream_in_the_payload_limits_refuses_to_start()
    {
        using var temp = new TempDirectory();

        var run = await CommandLine.RunAsync("dotnet",
            [GatewayProcess.Dll, $"--Gateway:Mqtt:Port={Loopback.FreePort()}", $"--Gateway:DataDirectory={temp.DataDirectory}",
             "--Gateway:Security:Limits:MaxPayloadBytesPerStream:nosuchstream=100"]);

        Assert.True(run.ExitCode == 2, run.Output);
        Assert.Contains("MaxPayloadBytesPerStream:nosuchstream", run.Output, StringComparison.Ordinal);
    }
}
