using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// Each rule of the log scrubber on the syntaxes devices use, and realistic lines that must stay untouched.
/// Every case runs on single-segment, multi-segment and one-byte-per-segment input. All values are made up.
/// </summary>
public sealed class LogPatternTests
{
    [Theory]
    [InlineData("wpa_passphrase=Tr0ub4dor&3 ok", "wpa_passphrase=[secret] ok")]
    [InlineData("wpa_passphrase Tr0ub4dor", "wpa_passphrase [secret]")]
    [InlineData("password: \"s3cret pass\" ok", "password: [secret] ok")]
    [InlineData("pass='x y z' ok", "pass=[secret] ok")]
    [InlineData("psk=\"Sommer2026!\"", "psk=[secret]")]
    [InlineData("PSK:Sommer2026!", "PSK:[secret]")]
    [InlineData("sae_password=Sommer2026!", "sae_password=[secret]")]
    [InlineData("wpa_psk = 0a1b2c3d4e5f", "wpa_psk = [secret]")]
    [InlineData("{\"wifiPassword\":\"Sommer2026!\"}", "{\"wifiPassword\":[secret]}")]
    [InlineData("mqtt: user=solar token=ab12.cd34", "mqtt: user=solar token=[secret]")]
    [InlineData("http: Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0 sent", "http: Authorization: [secret] sent")]
    [InlineData("connect mqtts://solar:Sommer2026!@broker.example.net:8883 ok", "connect mqtts://[secret]@broker.example.net:8883 ok")]
    [InlineData("connect mqtt://admin:pw@192.0.2.7:1883", "connect mqtt://[secret]@192.0.2.0:1883")]
    public void Replaces_passphrases_in_every_common_syntax(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("key_mgmt=WPA-PSK proto=RSN pairwise=CCMP")]
    [InlineData("psk_len=12 auth=WPA2-PSK")]
    [InlineData("keyboard=us monkey=1 bypass=0")]
    [InlineData("wifi: scan done, 6 networks")]
    [InlineData("network: link up")]
    public void Leaves_settings_that_only_mention_a_secret(string line)
    {
        Assert.Equal(line, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("ssid=\"My Net\" freq=2437", "ssid=[ssid] freq=2437")]
    [InlineData("SSID: Foo", "SSID: [ssid]")]
    [InlineData("SSID: My Home Net rssi=-70", "SSID: [ssid] rssi=-70")]
    [InlineData("wlan0 ESSID:\"Cafe Guest\" Mode:Managed", "wlan0 ESSID:[ssid] Mode:Managed")]
    [InlineData("Trying to associate with SSID 'Home 5G'", "Trying to associate with SSID [ssid]")]
    [InlineData("wifi_name=Garten-WLAN", "wifi_name=[ssid]")]
    [InlineData("ap_ssid='Solar Setup'", "ap_ssid=[ssid]")]
    public void Replaces_wifi_names_after_ssid_markers(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("owner jane.doe+solar@mail.example.co.uk bound", "owner [email] bound")]
    [InlineData("user_1@sub.example.org", "[email]")]
    [InlineData("contact: a.b@example.com.", "contact: [email].")]
    [InlineData("<Max.Muster@example.de>", "<[email]>")]
    public void Replaces_email_addresses(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("+49 30 1234567")]
    [InlineData("+49 (0)30 1234567")]
    [InlineData("+33 6 12 34 56 78")]
    [InlineData("+44 20 7946 0958")]
    [InlineData("+1-415-555-0142")]
    [InlineData("(415) 555-0142")]
    [InlineData("415-555-0142")]
    [InlineData("030/1234567")]
    [InlineData("0049 30 1234567")]
    [InlineData("07700 900123")]
    public void Replaces_phone_numbers_in_international_and_national_formats(string phone)
    {
        Assert.Equal("support [phone] today", LogScrubbing.ScrubEverySegmentation($"support {phone} today"));
    }

    [Theory]
    [InlineData("gw 192.0.2.77", "gw 192.0.2.0")]
    [InlineData("broker 192.0.2.10:8883 up", "broker 192.0.2.0:8883 up")]
    [InlineData("dns ::ffff:192.0.2.33", "dns ::ffff:192.0.2.0")]
    [InlineData("addr 2001:db8:4a2c::8a2e:370:7334", "addr 2001:db8:4a2c::")]
    [InlineData("addr 2001:0db8:4a2c:0000:0000:ff00:0042:8329 ok", "addr 2001:db8:4a2c:: ok")]
    [InlineData("peer [2001:db8:4a2c::1]:443", "peer [2001:db8:4a2c::]:443")]
    [InlineData("ll fe80::1c2a:3bff:fe4d:5e6f%wlan0", "ll fe80::%wlan0")]
    public void Truncates_ipv4_and_ipv6_addresses(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Fact]
    public void Truncates_ip_addresses_to_the_prefix_lengths_of_the_rules()
    {
        var rules = LogScrubRules.Default with { Ipv4PrefixLength = 16, Ipv6PrefixLength = 32 };

        Assert.Equal("gw 192.0.0.0 addr 2001:db8::", LogScrubbing.ScrubEverySegmentation("gw 192.0.2.77 addr 2001:db8:4a2c::1", rules));
    }

    [Theory]
    [InlineData("AA:BB:CC:11:22:33")]
    [InlineData("aa:bb:cc:11:22:33")]
    [InlineData("aa-bb-cc-11-22-33")]
    [InlineData("3C-71-BF-0A-9E-41")]
    [InlineData("aabb.cc11.2233")]
    public void Replaces_mac_addresses_with_any_separator_and_case(string mac)
    {
        Assert.Equal("peer [mac] rssi -67", LogScrubbing.ScrubEverySegmentation($"peer {mac} rssi -67"));
    }

    [Theory]
    [InlineData("bssid aabbcc112233", "bssid [mac]")]
    [InlineData("mac=AABBCC112233", "mac=[mac]")]
    [InlineData("BT addr: aabbcc112233", "BT addr: [mac]")]
    public void Replaces_bare_mac_addresses_after_a_mac_marker(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("client shellyplus-a8032ab61f04 connected", "client shellyplus-[mac] connected")]
    [InlineData("as shellyplus1pm-80646f81c2d4 (p2, c1)", "as shellyplus1pm-[mac] (p2, c1)")]
    [InlineData("*AO Wired  ethernet_0800274a5c1e_cable", "*AO Wired  ethernet_[mac]_cable")]
    [InlineData("    Ma Maison 2F8C        wifi_7cdd90a1b2c3_4d61204d6169736f6e2032463843_managed_psk", "    [ssid]        wifi_[mac]_[ssid]_managed_psk")]
    [InlineData("*AR Livebox-77A0          wifi_7cdd90a1b2c3_4c697665626f782d37374130_managed_psk", "*AR [ssid]          wifi_[mac]_[ssid]_managed_psk")]
    public void Replaces_a_mac_inside_an_identifier(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("keyid=iot 3a:7c:10:e5:92:4d Kuehlschrank-77\n", "keyid=iot [mac] [secret]\n")]
    [InlineData("vlanid=20 6e:01:bb:28:f4:c9 9b3e7d1c5a0f8e2b4d6c1a3f5e7b9d0c2e4a6b8d1f3c5e7a9b0d2f4a6c8e1b35\n", "vlanid=20 [mac] [secret]\n")]
    [InlineData("00:00:00:00:00:00 Gemeinsam2024!\n", "[mac] [secret]\n")]
    [InlineData("00:11:22:33:44:55 disconnected\n", "[mac] disconnected\n")]
    [InlineData("wlan0: 00:11:22:33:44:55 Roaming2024!\n", "wlan0: [mac] Roaming2024!\n")]
    public void Replaces_the_passphrase_of_a_hostapd_psk_file_row(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("I cloud: session 550e8400-e29b-41d4-a716-446655440000 open")]
    [InlineData("fw build-20231107a ok")]
    [InlineData("tasmota-1234 up")]
    public void Leaves_uuids_and_short_hex_parts_of_identifiers(string line)
    {
        Assert.Equal(line, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("build aabbcc112233 ok")]
    [InlineData("sha 3f2a9c1b7e04 ok")]
    public void Leaves_twelve_hex_digits_without_a_mac_marker(string line)
    {
        Assert.Equal(line, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("fix lat=48.13741 lon=11.57549", "fix lat=48.1 lon=11.6")]
    [InlineData("latitude: -33.868820, longitude: 151.209290", "latitude: -33.9, longitude: 151.2")]
    [InlineData("pos 48.137361,11.575465 ok", "pos 48.1,11.6 ok")]
    [InlineData("at (47.3769, 8.5417)", "at (47.4, 8.5)")]
    [InlineData("{\"lat\": \"48.13741\", \"lng\": \"11.57549\"}", "{\"lat\": \"48.1\", \"lng\": \"11.6\"}")]
    [InlineData("pos 48.137361°N, 11.575465°E", "pos 48.1°N, 11.6°E")]
    [InlineData("fix 48.13736 11.57546 hdop 0.9", "fix 48.1 11.6 hdop 0.9")]
    [InlineData("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", "$GPGGA,123519,[coord],N,[coord],E,1,08,0.9,545.4,M,46.9,M,,*47")]
    public void Coarsens_coordinate_pairs(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Fact]
    public void Coarsens_coordinates_to_the_decimals_of_the_rules()
    {
        var rules = LogScrubRules.Default with { CoordinateDecimals = 2 };

        Assert.Equal("fix lat=48.14 lon=11.58", LogScrubbing.ScrubEverySegmentation("fix lat=48.13741 lon=11.57549", rules));
    }

    [Theory]
    [InlineData("2026-11-24T10:00:01Z I boot: reset reason 0x0004")]
    [InlineData("2026-11-24 10:00:01.123+01:00 W main: loop slow")]
    [InlineData("[10:00:01.250] D sched: tick")]
    [InlineData("I ota: fw 1.2.3 -> 1.2.4, hw rev 0.2.3.1")]
    [InlineData("I ota: version 1.0.3.7 fw=2.1.0.4 rev: 3.0.0.12")]
    [InlineData("W bms: cell 3 voltage 3.41V temp -12.5C soc 76%")]
    [InlineData("E inverter: err 0x1F3A code E0423 crc 0xDEADBEEF")]
    [InlineData("I net: took 1500ms, retry in 30 s, uptime 00:01:30")]
    [InlineData("I sys: ts=1732442401 ts_ms=1732442401123")]
    [InlineData("I meter: power 1234 W energy 12345.678 kWh freq 50.02 Hz")]
    [InlineData("I wifi: rssi -67 dBm channel 6 freq 2437 MHz")]
    [InlineData("I cloud: session 550e8400-e29b-41d4-a716-446655440000")]
    [InlineData("D mqtt: std::vector<int> size 12, topic dt/anker_power/+/+/log")]
    [InlineData("I cells 3301 3302 3299 3305 mV")]
    [InlineData("I cells 3.4123 3.4156 3.4098 V, 3.41,3.42,3.40")]
    public void Leaves_levels_timestamps_components_and_measurements_untouched(string line)
    {
        Assert.Equal(line, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("bms: pack sn=AZV6Y60D33200788 ok")]
    [InlineData("bms: pack serial_number: \"AZV6Y60D33200788\" ok")]
    [InlineData("modem: imei=356938035643809 ok")]
    public void Pseudonymizes_identifiers_after_serial_markers(string line)
    {
        var output = LogScrubbing.ScrubEverySegmentation(line);

        Assert.DoesNotContain("AZV6Y60D33200788", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("356938035643809", output, StringComparison.Ordinal);
        Assert.EndsWith(" ok", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Gives_one_pseudonym_to_every_spelling_of_another_devices_serial()
    {
        var output = LogScrubbing.ScrubEverySegmentation("pack sn=AZV6Y60D33200788 then sn=azv6y60d33200788");

        var parts = output.Split(' ');
        Assert.Equal(parts[1], parts[3]);
    }

    [Fact]
    public void Keeps_identifiers_after_serial_markers_when_the_rules_keep_serials()
    {
        var rules = LogScrubRules.Default with { Serial = SerialHandling.Keep };

        Assert.Equal("pack sn=AZV6Y60D33200788 ok", LogScrubbing.ScrubEverySegmentation("pack sn=AZV6Y60D33200788 ok", rules));
    }

    [Fact]
    public void Drops_identifiers_after_serial_markers_when_the_rules_drop_serials()
    {
        var rules = LogScrubRules.Default with { Serial = SerialHandling.Drop };

        Assert.Equal("pack sn=[device] ok", LogScrubbing.ScrubEverySegmentation("pack sn=AZV6Y60D33200788 ok", rules));
    }
}
