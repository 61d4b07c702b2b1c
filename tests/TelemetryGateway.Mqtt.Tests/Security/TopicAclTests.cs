using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Authorization;

namespace TelemetryGateway.Mqtt.Tests.Security;

public sealed class TopicAclTests
{
    private static readonly Identity s_device = new("device-1", IdentityRole.Device, "SN1");
    private static readonly Identity s_installer = new("inst-1", IdentityRole.Installer, null);
    private static readonly Identity s_cloud = new("cloud-1", IdentityRole.Cloud, null);

    [Theory]
    [InlineData("dt/anker_power/A17C0/SN1/status")]
    [InlineData("dt/anker_power/A17C0/SN1")]
    [InlineData("dt/anker_power/A17C0/SN1/a/b/c")]
    public void Device_publishes_under_its_own_serial(string topic) => Assert.True(TopicAcl.MayPublish(s_device, topic));

    [Theory]
    [InlineData("dt/anker_power/A17C0/SN2/status")]
    [InlineData("dt/anker_power/SN1/status")]
    [InlineData("dt/anker_power/A17C0/SN10/status")]
    [InlineData("cmd/anker_power/A17C0/SN1/set")]
    [InlineData("filtered/after-sales-service/dt/anker_power/A17C0/SN1/status")]
    [InlineData("app/inst-1/commissioning/SN1")]
    [InlineData("dt/+/A17C0/SN1/status")]
    [InlineData("")]
    public void Device_may_not_publish_anywhere_else(string topic) => Assert.False(TopicAcl.MayPublish(s_device, topic));

    [Theory]
    [InlineData("cmd/+/+/SN1/#")]
    [InlineData("cmd/anker_power/A17C0/SN1/set")]
    [InlineData("cmd/anker_power/+/SN1/+")]
    [InlineData("cmd/+/+/SN1")]
    public void Device_subscribes_to_its_own_commands(string filter) => Assert.True(TopicAcl.MaySubscribe(s_device, filter));

    [Theory]
    [InlineData("dt/#")]
    [InlineData("#")]
    [InlineData("cmd/#")]
    [InlineData("cmd/+/+/+/#")]
    [InlineData("cmd/+/+/SN2/#")]
    [InlineData("cmd/+/#")]
    [InlineData("dt/+/+/SN1/#")]
    [InlineData("$SYS/#")]
    [InlineData("$share/g/cmd/+/+/SN1/#")]
    public void Device_may_not_subscribe_beyond_its_commands(string filter) => Assert.False(TopicAcl.MaySubscribe(s_device, filter));

    [Theory]
    [InlineData("app/inst-1/commissioning/SN1")]
    [InlineData("app/inst-1/commissioning/a/b")]
    [InlineData("cmd/anker_power/A17C0/SN1/set")]
    public void Installer_publishes_commissioning_records_and_commands(string topic) => Assert.True(TopicAcl.MayPublish(s_installer, topic));

    [Theory]
    [InlineData("app/inst-2/commissioning/SN1")]
    [InlineData("app/inst-1/other/SN1")]
    [InlineData("dt/anker_power/A17C0/SN1/status")]
    [InlineData("filtered/x")]
    public void Installer_may_not_publish_elsewhere(string topic) => Assert.False(TopicAcl.MayPublish(s_installer, topic));

    [Theory]
    [InlineData("dt/#")]
    [InlineData("app/#")]
    [InlineData("app/+/commissioning/#")]
    public void Installer_may_not_read_device_topics_or_other_installers(string filter) => Assert.False(TopicAcl.MaySubscribe(s_installer, filter));

    [Fact]
    public void Installer_reads_its_own_app_topics() => Assert.True(TopicAcl.MaySubscribe(s_installer, "app/inst-1/#"));

    [Theory]
    [InlineData("filtered/#")]
    [InlineData("filtered/after-sales-service/#")]
    [InlineData("filtered/+/dt/anker_power/+/+/status")]
    public void Cloud_reads_filtered_outputs(string filter) => Assert.True(TopicAcl.MaySubscribe(s_cloud, filter));

    [Theory]
    [InlineData("dt/#")]
    [InlineData("#")]
    [InlineData("+/#")]
    [InlineData("cmd/#")]
    public void Cloud_may_not_read_raw_topics(string filter) => Assert.False(TopicAcl.MaySubscribe(s_cloud, filter));

    [Fact]
    public void Cloud_may_not_publish() => Assert.False(TopicAcl.MayPublish(s_cloud, "filtered/x"));

    [Fact]
    public void Anonymous_is_unrestricted_where_it_is_allowed() =>
        Assert.True(TopicAcl.MayPublish(Identity.Anonymous, "dt/a/b/c/d") && TopicAcl.MaySubscribe(Identity.Anonymous, "#"));
}
