using System.Net.Sockets;
using TelemetryGateway.EndToEnd.Tests.Support;
using static TelemetryGateway.EndToEnd.Tests.Security.SecuredGateway;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// The site broker's security with real clients over TLS: what each role may do works, everything else is refused,
/// and the refusals are logged without topics or serials.
/// </summary>
public sealed class DeviceSecurityTests(SecuredGateway site) : IClassFixture<SecuredGateway>
{
    private const string OwnTopic = $"dt/anker_power/A17C0/{DeviceSerial}/firmware";
    private const string OtherTopic = $"dt/anker_power/A17C0/{OtherSerial}/firmware";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(15);

    private static string Firmware(string serial) => $$"""{"sn":"{{serial}}","sw_version":"v2"}""";

    [Fact]
    public async Task Device_telemetry_over_tls_with_a_password_reaches_cloud_ingestion_minimized()
    {
        await using var cloud = await site.ConnectAsync("cloud-1-ingest-1", "cloud-1", CloudPassword);
        await cloud.SubscribeAsync("filtered/#");

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{DeviceSerial}-dev-a", "-u", "device-1", "-P", DevicePassword,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));

        Assert.True(publish.ExitCode == 0, publish.Output);
        var received = await cloud.WaitForAsync(3, s_wait);
        Assert.True(received.Count == 3, site.Output);
        Assert.All(received, r => Assert.StartsWith("filtered/", r.Topic, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Device_publishing_under_another_serial_gets_not_authorized()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{DeviceSerial}-dev-b", "-u", "device-1", "-P", DevicePassword,
            "-t", OtherTopic, "-m", Firmware(OtherSerial));

        Assert.Contains("Not authorized", publish.Output, StringComparison.Ordinal);
        Assert.True(await site.OutputContainsAsync("Denied publish by a device client: NotAuthorized"), site.Output);
    }

    [Fact]
    public async Task Mqtt311_device_publishing_under_another_serial_loses_its_connection()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-q", "1", "-i", $"{DeviceSerial}-dev-c", "-u", "device-1", "-P", DevicePassword,
            "-t", OtherTopic, "-m", Firmware(OtherSerial));

        Assert.True(publish.ExitCode != 0, publish.Output);
        Assert.Contains("connection was lost", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Denials_are_logged_without_topics_or_serials()
    {
        await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{DeviceSerial}-dev-d", "-u", "device-1", "-P", DevicePassword,
            "-t", OtherTopic, "-m", Firmware(OtherSerial));

        Assert.True(await site.OutputContainsAsync("Denied publish"), site.Output);
        Assert.DoesNotContain(OtherSerial, site.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(DeviceSerial, site.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(DevicePassword, site.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_subscribing_to_all_device_topics_is_refused()
    {
        var subscribe = await site.MosquittoAsync("mosquitto_sub", "-V", "mqttv5", "-i", $"{DeviceSerial}-dev-e", "-u", "device-1", "-P", DevicePassword,
            "-t", "dt/#", "-C", "1", "-W", "5");

        Assert.Contains("All subscription requests were denied", subscribe.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mqtt311_device_subscribing_to_all_device_topics_gets_a_suback_failure()
    {
        var subscribe = await site.MosquittoAsync("mosquitto_sub", "-V", "mqttv311", "-i", $"{DeviceSerial}-dev-f", "-u", "device-1", "-P", DevicePassword,
            "-t", "dt/#", "-C", "1", "-W", "5");

        Assert.Contains("All subscription requests were denied", subscribe.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_subscribing_to_commands_of_another_serial_is_refused()
    {
        var subscribe = await site.MosquittoAsync("mosquitto_sub", "-V", "mqttv5", "-i", $"{DeviceSerial}-dev-g", "-u", "device-1", "-P", DevicePassword,
            "-t", $"cmd/+/+/{OtherSerial}/#", "-C", "1", "-W", "5");

        Assert.Contains("All subscription requests were denied", subscribe.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cloud_identity_subscribing_to_device_topics_is_refused()
    {
        var subscribe = await site.MosquittoAsync("mosquitto_sub", "-V", "mqttv5", "-i", "cloud-1-h", "-u", "cloud-1", "-P", CloudPassword,
            "-t", "dt/#", "-C", "1", "-W", "5");

        Assert.Contains("All subscription requests were denied", subscribe.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_receives_commands_the_installer_sends_for_its_serial()
    {
        await using var device = await site.ConnectAsync($"{DeviceSerial}-dev-i", "device-1", DevicePassword);
        await device.SubscribeAsync($"cmd/+/+/{DeviceSerial}/#");

        var command = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", "installer-1-i", "-u", "installer-1", "-P", InstallerPassword,
            "-t", $"cmd/anker_power/A17C0/{DeviceSerial}/set", "-m", """{"wifi_name":"x"}""");

        Assert.True(command.ExitCode == 0 && !command.Output.Contains("failed", StringComparison.Ordinal), command.Output);
        var received = await device.WaitForAsync(1, s_wait);
        Assert.Single(received);
    }

    [Fact]
    public async Task Installer_publishes_commissioning_records_under_its_own_name()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", "installer-1-j", "-u", "installer-1", "-P", InstallerPassword,
            "-t", $"app/installer-1/commissioning/{DeviceSerial}", "-m", "{}");

        Assert.True(publish.ExitCode == 0 && !publish.Output.Contains("failed", StringComparison.Ordinal), publish.Output);
    }

    [Fact]
    public async Task Installer_publishing_device_telemetry_gets_not_authorized()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", "installer-1-k", "-u", "installer-1", "-P", InstallerPassword,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));

        Assert.Contains("Not authorized", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_id_of_another_identity_is_refused()
    {
        // A persistent session (-c): it outlives the connection, and so does the client id's owner.
        var owner = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-c", "-q", "1", "-i", $"{DeviceSerial}-shared-id-v", "-u", "device-1", "-P", DevicePassword,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));
        Assert.True(owner.ExitCode == 0, owner.Output);

        // Another identity whose pattern allows the id: a device certificate for the same serial.
        var (certificate, key) = site.Certificates.Client("device-cert-v", DeviceSerial);
        var other = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-i", $"{DeviceSerial}-shared-id-v", "--cert", certificate, "--key", key,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));

        Assert.Contains("not authorised", other.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authenticated_client_without_keep_alive_is_refused()
    {
        // MQTTnet 5's client reports a refused CONNACK in its result rather than by throwing.
        await using var client = await site.ConnectAsync($"{DeviceSerial}-dev-w", "device-1", DevicePassword, configure: o => o.WithKeepAlivePeriod(TimeSpan.Zero));

        Assert.False(client.IsConnected);
        Assert.True(await site.OutputContainsAsync("Connection refused: keep-alive must be between 1 and 600 seconds"), site.Output);
    }

    [Fact]
    public async Task Authenticated_client_asking_for_a_keep_alive_above_the_limit_is_refused()
    {
        // MQTTnet 5's client reports a refused CONNACK in its result rather than by throwing.
        await using var client = await site.ConnectAsync($"{DeviceSerial}-dev-x", "device-1", DevicePassword, configure: o => o.WithKeepAlivePeriod(TimeSpan.FromSeconds(3600)));

        Assert.False(client.IsConnected);
        Assert.True(await site.OutputContainsAsync("Connection refused: keep-alive must be between 1 and 600 seconds"), site.Output);
    }

    [Fact]
    public async Task Client_id_is_free_again_once_its_clean_session_ended()
    {
        var first = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-q", "1", "-i", $"{DeviceSerial}-shared-id-y", "-u", "device-1", "-P", DevicePassword,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));
        Assert.True(first.ExitCode == 0, first.Output);

        // The broker deletes the session just after the first client's DISCONNECT: a few tries, bounded.
        var (certificate, key) = site.Certificates.Client("device-cert-y", DeviceSerial);
        CommandResult second = null!;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            second = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-q", "1", "-i", $"{DeviceSerial}-shared-id-y", "--cert", certificate, "--key", key,
                "-t", OwnTopic, "-m", Firmware(DeviceSerial));
            if (second.ExitCode == 0)
            {
                break;
            }
            await Task.Delay(300);
        }

        Assert.True(second.ExitCode == 0, second.Output);
    }

    [Fact]
    public async Task Wrong_password_is_refused()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-i", "dev-l", "-u", "device-1", "-P", "not-the-password",
            "-t", OwnTopic, "-m", "{}");

        Assert.Contains("bad user name or password", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_client_is_refused_when_anonymous_access_is_off()
    {
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-i", "anon-m", "-t", OwnTopic, "-m", "{}");

        Assert.Contains("not authorised", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_client_on_the_plain_listener_is_refused_too()
    {
        var publish = await CommandLine.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", site.PlainPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-V", "mqttv311", "-i", "anon-n", "-t", OwnTopic, "-m", "{}"]);

        Assert.Contains("not authorised", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_with_a_client_certificate_publishes_under_the_certificate_serial()
    {
        var (certificate, key) = site.Certificates.Client("device-cert", CertificateSerial);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-dev-o", "--cert", certificate, "--key", key,
            "-t", $"dt/anker_power/A17C0/{CertificateSerial}/firmware", "-m", Firmware(CertificateSerial));

        Assert.True(publish.ExitCode == 0 && !publish.Output.Contains("failed", StringComparison.Ordinal), publish.Output);
    }

    [Fact]
    public async Task Device_with_a_client_certificate_publishing_under_another_serial_gets_not_authorized()
    {
        var (certificate, key) = site.Certificates.Client("device-cert-p", CertificateSerial);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-dev-p", "--cert", certificate, "--key", key,
            "-t", OwnTopic, "-m", Firmware(DeviceSerial));

        Assert.Contains("Not authorized", publish.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expired_client_certificate_is_refused()
    {
        var (certificate, key) = site.Certificates.Client("expired", CertificateSerial, expired: true);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-dev-q", "--cert", certificate, "--key", key,
            "-t", $"dt/anker_power/A17C0/{CertificateSerial}/firmware", "-m", "{}");

        Assert.True(publish.ExitCode != 0, publish.Output);
    }

    [Fact]
    public async Task Client_certificate_from_an_untrusted_ca_is_refused()
    {
        var (certificate, key) = site.Certificates.Client("untrusted", CertificateSerial, untrusted: true);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{CertificateSerial}-dev-r", "--cert", certificate, "--key", key,
            "-t", $"dt/anker_power/A17C0/{CertificateSerial}/firmware", "-m", "{}");

        Assert.True(publish.ExitCode != 0, publish.Output);
    }

    [Fact]
    public async Task Tls_1_1_handshake_is_refused()
    {
        // openssl s_client, because mosquitto_pub's --tls-version does not force an older protocol.
        var handshake = await CommandLine.RunAsync("openssl",
            ["s_client", "-connect", $"127.0.0.1:{site.TlsPort}", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", site.Certificates.CaFile], standardInput: "");

        Assert.Contains("alert protocol version", handshake.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_1_2_handshake_succeeds()
    {
        var handshake = await CommandLine.RunAsync("openssl",
            ["s_client", "-connect", $"127.0.0.1:{site.TlsPort}", "-tls1_2", "-CAfile", site.Certificates.CaFile], standardInput: "");

        Assert.Contains("Verify return code: 0 (ok)", handshake.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_that_never_sends_connect_is_dropped_after_the_connect_timeout()
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", site.PlainPort);
        var stream = socket.GetStream();
        var started = DateTime.UtcNow;

        var read = await ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(20));

        Assert.Equal(0, read);
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 1, 15);
    }

    [Fact]
    public async Task Client_that_never_starts_the_tls_handshake_is_dropped_after_the_connect_timeout()
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", site.TlsPort);
        var started = DateTime.UtcNow;

        var read = await ReadUntilClosedAsync(socket.GetStream(), TimeSpan.FromSeconds(20));

        Assert.Equal(0, read);
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 1, 15);
    }

    [Fact]
    public async Task Packet_above_the_limit_closes_the_connection()
    {
        using var temp = new TempDirectory();
        var large = temp.Combine("large.json");
        await File.WriteAllTextAsync(large, $$"""{"sn":"{{DeviceSerial}}","blob":"{{new string('a', 100_000)}}"}""");

        // MQTT 3.1.1: an MQTT 5 client learns the limit from CONNACK (Maximum Packet Size) and does not send the packet at all.
        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-q", "1", "-i", $"{DeviceSerial}-dev-t", "-u", "device-1", "-P", DevicePassword,
            "-t", OwnTopic, "-f", large);

        Assert.True(publish.ExitCode != 0, publish.Output);
        // MQTT 3.1.1 has no DISCONNECT from the server: the log says the connection was closed without a reason code.
        Assert.True(await site.OutputContainsAsync("no DISCONNECT reason code): packet too large"), site.Output);
    }

    [Fact]
    public async Task User_added_while_the_gateway_runs_can_connect_without_a_restart()
    {
        var added = await site.AddUserAsync("device-late", "late-pass-001", "--role", "device", "--serial", OtherSerial);
        Assert.True(added.ExitCode == 0, added.Output);

        var publish = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv5", "-q", "1", "-i", $"{OtherSerial}-dev-u", "-u", "device-late", "-P", "late-pass-001",
            "-t", OtherTopic, "-m", Firmware(OtherSerial));

        Assert.True(publish.ExitCode == 0 && !publish.Output.Contains("failed", StringComparison.Ordinal), publish.Output);
    }

    [Fact]
    public async Task Users_verb_never_echoes_the_password()
    {
        var added = await site.AddUserAsync("device-echo", "echo-pass-001", "--role", "device");

        Assert.True(added.ExitCode == 0, added.Output);
        Assert.DoesNotContain("echo-pass-001", added.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("echo-pass-001", await File.ReadAllTextAsync(site.CredentialsFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mqtt311_clients_without_a_client_id_get_one_of_their_identitys_pattern()
    {
        // mosquitto_sub and mosquitto_pub without -i (MQTT 3.1.1, clean session): the gateway assigns the ids. An id
        // outside the identity's pattern would be refused, so being served shows the assigned ids follow it.
        var subscribing = site.MosquittoAsync("mosquitto_sub", "-V", "mqttv311", "-u", "device-1", "-P", DevicePassword,
            "-t", $"cmd/+/+/{DeviceSerial}/#", "-C", "1", "-W", "15");
        CommandResult? command = null;
        for (var i = 0; i < 20 && !subscribing.IsCompleted; i++)
        {
            // Repeated until the subscriber (connecting meanwhile) has one: a command published before it subscribed is lost.
            command = await site.MosquittoAsync("mosquitto_pub", "-V", "mqttv311", "-q", "1", "-u", "installer-1", "-P", InstallerPassword,
                "-t", $"cmd/anker_power/A17C0/{DeviceSerial}/assigned-id", "-m", "{}");
            Assert.True(command.ExitCode == 0, command.Output);
            await Task.WhenAny(subscribing, Task.Delay(500));
        }
        var received = await subscribing;

        Assert.True(received.ExitCode == 0, received.Output + site.Output);
        Assert.Contains("{}", received.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Raw_mqtt311_connect_without_a_client_id_is_accepted_with_clean_session_only()
    {
        // Written by hand: client libraries make an id up. Clean session with credentials: accepted (0x00); without
        // credentials (anonymous access is off here): not authorized (0x05), not "identifier rejected"; without clean
        // session: identifier rejected (0x02), as MQTT 3.1.1 §3.1.3.1 says.
        Assert.Equal(0, await ConnAckOfMqtt311Async(cleanSession: true, "device-1", DevicePassword));
        Assert.Equal(5, await ConnAckOfMqtt311Async(cleanSession: true, user: null, password: null));
        Assert.Equal(2, await ConnAckOfMqtt311Async(cleanSession: false, "device-1", DevicePassword));
    }

    /// <summary>Sends an MQTT 3.1.1 CONNECT with an empty client id to the plain listener; returns the CONNACK's return code.</summary>
    private async Task<byte> ConnAckOfMqtt311Async(bool cleanSession, string? user, string? password)
    {
        List<byte> body = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4,
            (byte)((cleanSession ? 0x02 : 0) | (user is null ? 0 : 0x80) | (password is null ? 0 : 0x40)), 0, 60, 0, 0];
        foreach (var text in new[] { user, password })
        {
            if (text is not null)
            {
                body.AddRange([0, (byte)text.Length, .. System.Text.Encoding.UTF8.GetBytes(text)]);
            }
        }
        using var socket = new TcpClient();
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, site.PlainPort);
        var stream = socket.GetStream();
        await stream.WriteAsync((byte[])[0x10, (byte)body.Count, .. body]);
        var connack = new byte[4];
        using var timeout = new CancellationTokenSource(s_wait);
        await stream.ReadExactlyAsync(connack, timeout.Token);
        Assert.Equal(new byte[] { 0x20, 2, 0 }, connack[..3]);
        return connack[3];
    }

    private static async Task<int> ReadUntilClosedAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var buffer = new byte[64];
        try
        {
            return await stream.ReadAsync(buffer, cancel.Token);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
