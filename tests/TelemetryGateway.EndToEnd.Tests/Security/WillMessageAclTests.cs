using System.Text;
using static TelemetryGateway.EndToEnd.Tests.Security.SecuredGateway;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// A will message is a publish the broker makes for a client that vanished: it must pass the same topic ACL as the
/// client's own publishes, or a device could reach another device's topics by dying.
/// </summary>
public sealed class WillMessageAclTests(SecuredGateway site) : IClassFixture<SecuredGateway>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(15);

    private static byte[] Firmware(string serial) => Encoding.UTF8.GetBytes($$"""{"sn":"{{serial}}","sw_version":"v2"}""");

    [Fact]
    public async Task Will_of_a_device_on_its_own_topic_reaches_cloud_ingestion_minimized()
    {
        await using var cloud = await site.ConnectAsync("cloud-1-will-own", "cloud-1", CloudPassword);
        await cloud.SubscribeAsync("filtered/#");
        var device = await site.ConnectAsync($"{DeviceSerial}-dev-will-own", "device-1", DevicePassword, configure: options => options
            .WithWillTopic($"dt/anker_power/A17C0/{DeviceSerial}/firmware")
            .WithWillPayload(Firmware(DeviceSerial))
            .WithWillQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce));

        device.Abort();

        // Firmware has three purposes in the shipped policy.
        var received = await cloud.WaitForAsync(3, s_wait);
        Assert.True(received.Count == 3, site.Output);
        Assert.All(received, r => Assert.StartsWith("filtered/", r.Topic, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Will_of_a_device_on_another_serials_topic_is_denied()
    {
        await using var cloud = await site.ConnectAsync("cloud-1-will-other", "cloud-1", CloudPassword);
        await cloud.SubscribeAsync("filtered/#");
        var device = await site.ConnectAsync($"{DeviceSerial}-dev-will-other", "device-1", DevicePassword, configure: options => options
            .WithWillTopic($"dt/anker_power/A17C0/{OtherSerial}/firmware")
            .WithWillPayload(Firmware(OtherSerial))
            .WithWillQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce));

        device.Abort();

        Assert.True(await site.OutputContainsAsync("Denied publish by a device client"), site.Output);
        var received = await cloud.WaitForAsync(1, TimeSpan.FromSeconds(3));
        Assert.Empty(received);
    }
}
