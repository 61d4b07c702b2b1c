using static TelemetryGateway.EndToEnd.Tests.Security.SecuredGateway;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>TLS, authentication and the ACL on MQTTnet's own TCP listener (Gateway:Mqtt:Transport=tcp).</summary>
public sealed class TcpTransportSecurityTests(SecuredTcpGateway site) : IClassFixture<SecuredTcpGateway>
{
    private const string OwnTopic = $"dt/anker_power/A17C0/{DeviceSerial}/firmware";
    private const string OtherTopic = $"dt/anker_power/A17C0/{OtherSerial}/firmware";

    [Fact]
    public async Task Device_telemetry_over_tls_reaches_cloud_ingestion()
    {
        await using var cloud = await site.ConnectAsync("cloud-1-tcp-1", "cloud-1", CloudPassword);
        await cloud.SubscribeAsync("filtered/#");

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{DeviceSerial}-tcp-a", "-u", "device-1", "-P", DevicePassword,
            "-t", OwnTopic, "-m", $$"""{"sn":"{{DeviceSerial}}","sw_version":"v2"}""");

        Assert.True(publish.ExitCode == 0, publish.Output);
        var received = await cloud.WaitForAsync(3, TimeSpan.FromSeconds(15));
        Assert.True(received.Count == 3, site.Output);
    }

    [Fact]
    public async Task Device_publishing_under_another_serial_gets_not_authorized()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{DeviceSerial}-tcp-b", "-u", "device-1", "-P", DevicePassword,
            "-t", OtherTopic, "-m", "{}");

        Assert.Contains("Not authorized", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cloud_identity_subscribing_to_device_topics_is_refused()
    {
        var subscribe = await site.MosquittoAsync("mosquitto_sub", "-V", "mqttv5", "-i", "cloud-1-tcp-c", "-u", "cloud-1", "-P", CloudPassword,
            "-t", "dt/#", "-C", "1", "-W", "5");

        Assert.Contains("All subscription requests were denied", subscribe.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_password_is_refused()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-i", "tcp-d", "-u", "device-1", "-P", "nope", "-t", OwnTopic, "-m", "{}");

        Assert.Contains("bad user name or password", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_with_a_client_certificate_publishes_under_the_certificate_serial()
    {
        var (certificate, key) = site.Certificates.Client("tcp-device-cert", CertificateSerial);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-tcp-e", "--cert", certificate, "--key", key,
            "-t", $"dt/anker_power/A17C0/{CertificateSerial}/firmware", "-m", "{}");

        Assert.True(publish.ExitCode == 0 && !publish.Output.Contains("failed", StringComparison.Ordinal), publish.Output);
    }

    [Fact]
    public async Task Client_certificate_from_an_untrusted_ca_is_refused()
    {
        var (certificate, key) = site.Certificates.Client("tcp-untrusted", CertificateSerial, untrusted: true);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-tcp-f", "--cert", certificate, "--key", key,
            "-t", $"dt/anker_power/A17C0/{CertificateSerial}/firmware", "-m", "{}");

        Assert.True(publish.ExitCode != 0, publish.Output);
    }

    [Fact]
    public async Task Tls_1_1_handshake_is_refused()
    {
        var handshake = await CommandLine.RunAsync("openssl",
            ["s_client", "-connect", $"127.0.0.1:{site.TlsPort}", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", site.Certificates.CaFile], standardInput: "");

        Assert.Contains("alert protocol version", handshake.Output, StringComparison.Ordinal);
    }
}
