using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Transforms;

public sealed class TextRedactionTests
{
    private const string DeviceLog =
        "2026-11-24T10:00:01Z I wifi: connecting to ssid=Office-WLAN-160\n"
        + "2026-11-24T10:00:02Z D wifi: psk=hunter4657!x auth=WPA2\n"
        + "2026-11-24T10:00:03Z I net: dhcp lease 2001:218:85a3::8a2e:370:7334 gw 192.0.2.1\n"
        + "2026-11-24T10:00:04Z I cloud: owner li.wei@example.net bound device WK1DEGZD8PCF32ER\n"
        + "2026-11-24T10:00:05Z W bms: cell 3 temp 9.1C soc 76%\n"
        + "2026-11-24T10:00:06Z I gps: fix lat=48.137361 lon=11.575465 hdop=0.9\n"
        + "2026-11-24T10:00:07Z I ble: paired with CB:19:71:17:44:94\n";

    [Fact]
    public void Replaces_psk_value_and_keeps_key()
    {
        Assert.Equal(
            "2026-11-24T10:00:02Z D wifi: psk=[secret] auth=WPA2",
            Redact("2026-11-24T10:00:02Z D wifi: psk=hunter4657!x auth=WPA2"));
    }

    [Fact]
    public void Replaces_ssid_value_and_keeps_wifi_component_name()
    {
        Assert.Equal(
            "2026-11-24T10:00:01Z I wifi: connecting to ssid=[ssid]",
            Redact("2026-11-24T10:00:01Z I wifi: connecting to ssid=Office-WLAN-160"));
    }

    [Fact]
    public void Replaces_email_in_log_line()
    {
        Assert.Equal("owner [email] bound", Redact("owner li.wei@example.net bound"));
    }

    [Fact]
    public void Truncates_ipv6_and_ipv4_in_dhcp_line()
    {
        Assert.Equal(
            "dhcp lease 2001:218:85a3:: gw 192.0.2.0",
            Redact("dhcp lease 2001:218:85a3::8a2e:370:7334 gw 192.0.2.1"));
    }

    [Fact]
    public void Replaces_mac_in_pairing_line()
    {
        Assert.Equal("paired with [mac]", Redact("paired with CB:19:71:17:44:94"));
    }

    [Fact]
    public void Redacts_whole_device_log_and_keeps_the_rest_readable()
    {
        var expected =
            "2026-11-24T10:00:01Z I wifi: connecting to ssid=[ssid]\n"
            + "2026-11-24T10:00:02Z D wifi: psk=[secret] auth=WPA2\n"
            + "2026-11-24T10:00:03Z I net: dhcp lease 2001:218:85a3:: gw 192.0.2.0\n"
            + "2026-11-24T10:00:04Z I cloud: owner [email] bound device WK1DEGZD8PCF32ER\n"
            + "2026-11-24T10:00:05Z W bms: cell 3 temp 9.1C soc 76%\n"
            + $"2026-11-24T10:00:06Z I gps: fix lat={Coarse("48.137361")} lon={Coarse("11.575465")} hdop=0.9\n"
            + "2026-11-24T10:00:07Z I ble: paired with [mac]\n";

        Assert.Equal(expected, Redact(DeviceLog));
    }

    [Theory]
    [InlineData("password=hunter2", "password=[secret]")]
    [InlineData("passwd: hunter2", "passwd: [secret]")]
    [InlineData("pwd=hunter2", "pwd=[secret]")]
    [InlineData("pass=hunter2", "pass=[secret]")]
    [InlineData("PSK=hunter2", "PSK=[secret]")]
    [InlineData("wpa_passphrase=hunter2", "wpa_passphrase=[secret]")]
    [InlineData("passphrase : hunter2", "passphrase : [secret]")]
    [InlineData("secret=hunter2", "secret=[secret]")]
    [InlineData("Token: eyJhbGciOi.x.y", "Token: [secret]")]
    [InlineData("api_key=AKIA1234", "api_key=[secret]")]
    [InlineData("apikey=AKIA1234", "apikey=[secret]")]
    [InlineData("key=AKIA1234", "key=[secret]")]
    [InlineData("wifi_password=hunter2", "wifi_password=[secret]")]
    [InlineData("wifi-psk=hunter2", "wifi-psk=[secret]")]
    [InlineData("Password = hunter2", "Password = [secret]")]
    [InlineData("wifiPassword=hunter2 accessToken=abc", "wifiPassword=[secret] accessToken=[secret]")]
    public void Replaces_value_after_each_secret_marker(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Theory]
    [InlineData("login password=\"correct horse battery\" ok", "login password=[secret] ok")]
    [InlineData("login password='correct horse battery' ok", "login password=[secret] ok")]
    [InlineData("token: \"a \\\" b\" ok", "token: [secret] ok")]
    [InlineData("password=\"\" ok", "password=[secret] ok")]
    public void Replaces_quoted_secret_including_quotes(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Fact]
    public void Replaces_unclosed_quoted_secret_to_end_of_line()
    {
        Assert.Equal("password=[secret]\nnext line", Redact("password=\"correct horse\nnext line"));
    }

    [Theory]
    [InlineData("/cb?token=abc123&user=x", "/cb?token=[secret]&user=x")]
    [InlineData("token=abc123;next", "token=[secret];next")]
    [InlineData("token=abc123,next", "token=[secret],next")]
    [InlineData("token=abc123\tnext", "token=[secret]\tnext")]
    public void Ends_unquoted_secret_at_delimiters(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Fact]
    public void Replaces_secret_in_json_like_text()
    {
        Assert.Equal(
            "{\"password\": [secret], \"rssi\": -73}",
            Redact("{\"password\": \"hunter4657!x\", \"rssi\": -73}"));
    }

    [Theory]
    [InlineData("monkey=banana keyboard=us bypass=1 passage=3")]
    [InlineData("auth=WPA2 security=WPA2-PSK")]
    [InlineData("key not found")]
    public void Leaves_words_that_only_contain_a_marker(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("ssid=Office-WLAN-160", "ssid=[ssid]")]
    [InlineData("SSID: Office-WLAN-160", "SSID: [ssid]")]
    [InlineData("wifi_name=Office-WLAN-160", "wifi_name=[ssid]")]
    [InlineData("wifi=Office-WLAN-160", "wifi=[ssid]")]
    [InlineData("network=Office-WLAN-160", "network=[ssid]")]
    [InlineData("ssid='Home Net 5G' ok", "ssid=[ssid] ok")]
    [InlineData("joined SSID \"Home Net 5G\" ok", "joined SSID [ssid] ok")]
    [InlineData("{\"wifi_name\": \"Office-WLAN-160\"}", "{\"wifi_name\": [ssid]}")]
    public void Replaces_wifi_name_after_ssid_marker(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Theory]
    [InlineData("wifi: scan done, 4 networks")]
    [InlineData("network: link up")]
    [InlineData("wifi: auth=WPA2")]
    [InlineData("{\"wifi\": {\"rssi\": -73}}")]
    public void Leaves_wifi_and_network_component_names(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("mail li.wei@example.net now", "mail [email] now")]
    [InlineData("<Jane.Doe+energy@mail.example.co.uk>", "<[email]>")]
    [InlineData("contact s.rossi@example.com.", "contact [email].")]
    public void Replaces_email_addresses(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Theory]
    [InlineData("+49 30 5550 1234")]
    [InlineData("+1-415-555-0142")]
    [InlineData("+393331234567")]
    [InlineData("(415) 555-0142")]
    [InlineData("030 5550 1234")]
    [InlineData("415-555-0142")]
    [InlineData("415.555.0142")]
    [InlineData("+1 (415) 555-0142")]
    [InlineData("5551234")]
    public void Replaces_phone_numbers(string phone)
    {
        Assert.Equal("call [phone] now", Redact($"call {phone} now"));
    }

    [Theory]
    [InlineData("2026-11-24T10:00:01Z I boot")]
    [InlineData("on 2026-11-24 at 10:00:01")]
    [InlineData("2026-11-24 10:00:01 started")]
    [InlineData("due 24.11.2026")]
    public void Leaves_iso_timestamps_dates_and_times_readable(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("fw v1.2.3 hw 1.0.3 os 10.0.19045.1234")]
    [InlineData("\"sw_version\": \"v1.0.3\", \"hw_version\": \"v0.2.3.1\"")]
    [InlineData("cell 3 temp 9.1C soc 76% volt 48.1 hdop=0.9")]
    [InlineData("count 123456 err 404 temp 48.137361")]
    [InlineData("cells 3301 3302 3299 3305 mV")]
    public void Leaves_versions_and_measurements_readable(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("CB:19:71:17:44:94")]
    [InlineData("cb:19:71:17:44:94")]
    [InlineData("CB-19-71-17-44-94")]
    [InlineData("cb19.7117.4494")]
    [InlineData("CB1971174494")]
    [InlineData("cb1971174494")]
    public void Replaces_mac_addresses_in_every_notation(string mac)
    {
        Assert.Equal("bssid [mac] rssi -73", Redact($"bssid {mac} rssi -73"));
    }

    [Theory]
    [InlineData("device WK1DEGZD8PCF32ER")]
    [InlineData("uuid 550e8400-e29b-41d4-a716-446655440000")]
    [InlineData("hash deadbeefcafe")]
    public void Leaves_identifiers_that_are_not_macs(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("gw 192.0.2.1", "gw 192.0.2.0")]
    [InlineData("peer 192.0.2.77:8080 up", "peer 192.0.2.0:8080 up")]
    [InlineData("from 81.2.69.142.", "from 81.2.69.0.")]
    [InlineData("lease 2001:218:85a3::8a2e:370:7334", "lease 2001:218:85a3::")]
    [InlineData("lease 2001:db8:85a3:0:0:8a2e:370:7334 ok", "lease 2001:db8:85a3:: ok")]
    [InlineData("peer [2001:db8:85a3::1]:443 up", "peer [2001:db8:85a3::]:443 up")]
    [InlineData("url http://192.0.2.1:8080/status", "url http://192.0.2.0:8080/status")]
    public void Truncates_ipv4_and_ipv6_addresses(string input, string expected)
    {
        Assert.Equal(expected, Redact(input));
    }

    [Theory]
    [InlineData("uptime 10:00:01 ok")]
    [InlineData("at 10:00:01:123 ok")]
    [InlineData("std::vector size 1.2.3")]
    public void Does_not_mistake_times_for_ip_addresses(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Theory]
    [InlineData("fix lat=48.137361 lon=11.575465 hdop=0.9", "fix lat={48.137361} lon={11.575465} hdop=0.9")]
    [InlineData("latitude: 48.137361, longitude: 11.575465", "latitude: {48.137361}, longitude: {11.575465}")]
    [InlineData("pos 48.137361,11.575465 ok", "pos {48.137361},{11.575465} ok")]
    [InlineData("pos 51.506869, -0.127670 ok", "pos {51.506869}, {-0.127670} ok")]
    [InlineData("{\"lat\": 35.68536, \"lng\": 139.75309}", "{\"lat\": {35.68536}, \"lng\": {139.75309}}")]
    [InlineData("gps_lat=-33.868820", "gps_lat={-33.868820}")]
    public void Coarsens_coordinates_to_one_decimal(string input, string template)
    {
        Assert.Equal(Fill(template), Redact(input));
    }

    [Fact]
    public void Keeps_already_coarse_coordinates()
    {
        Assert.Equal("latitude: 48.1, longitude: 11.5", Redact("latitude: 48.1, longitude: 11.5"));
    }

    [Theory]
    [InlineData("I bms: charging done, 12 cycles, health good")]
    [InlineData("W inverter: grid frequency 50.02 Hz, output 370 W")]
    [InlineData("E ota: download failed (code -5), retry in 30 s")]
    public void Leaves_non_personal_text_unchanged(string input)
    {
        Assert.Equal(input, Redact(input));
    }

    [Fact]
    public void Returns_empty_output_for_empty_input()
    {
        Assert.True(TextRedaction.TryRedact([], [], out var written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Keeps_non_ascii_text()
    {
        Assert.Equal(
            "Störung: Wärmepumpe läuft 🔥 für Jürgen, password=[secret] (東京)",
            Redact("Störung: Wärmepumpe läuft 🔥 für Jürgen, password=geheimÄ (東京)"));
    }

    [Theory]
    [InlineData("hunter4657!x")]
    [InlineData("HUNTER4657!X")]
    [InlineData("HuNtEr4657!x")]
    public void Never_outputs_a_secret_in_any_letter_case(string secret)
    {
        var input = $"psk={secret} PASSWORD=\"{secret}\" wifi-Key:{secret} {{\"Token\": '{secret}'}} ApiKey = {secret}";

        var output = Redact(input);

        Assert.DoesNotContain(secret, output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Never_outputs_personal_values_from_the_device_log()
    {
        var output = Redact(DeviceLog);

        foreach (var value in new[] { "Office-WLAN-160", "hunter4657!x", "8a2e:370:7334", "li.wei@example.net", "CB:19:71:17:44:94", "48.137361", "11.575465", "192.0.2.1 " })
        {
            Assert.DoesNotContain(value, output, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Returns_false_when_destination_is_too_small()
    {
        var input = "psk=hunter4657!x"u8;
        var destination = new byte[10];

        Assert.False(TextRedaction.TryRedact(input, destination, out var written));
        Assert.Equal(0, written);
    }

    [Theory]
    [InlineData("psk=x,")]
    [InlineData("ssid=x ")]
    [InlineData("a@b.cc ")]
    [InlineData("::1 ")]
    [InlineData("lat=1 ")]
    public void Max_output_length_suffices_for_worst_case_expansion(string unit)
    {
        var input = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(unit, 1000)));
        var destination = new byte[TextRedaction.MaxOutputLength(input.Length)];

        Assert.True(TextRedaction.TryRedact(input, destination, out var written));
        Assert.True(written <= destination.Length);
    }

    [Fact]
    public void Handles_long_pathological_input_in_one_pass()
    {
        var input = Encoding.UTF8.GetBytes(
            string.Concat(Enumerable.Repeat("password=\"", 20_000))
            + string.Concat(Enumerable.Repeat("a.", 50_000))
            + string.Concat(Enumerable.Repeat("1-", 50_000))
            + new string('7', 100_000));
        var destination = new byte[TextRedaction.MaxOutputLength(input.Length)];

        Assert.True(TextRedaction.TryRedact(input, destination, out _));
    }

    [Fact]
    public void Does_not_allocate()
    {
        var input = Encoding.UTF8.GetBytes(DeviceLog + "call +49 30 5550 1234, peer [2001:db8::1]:443, pos 48.137361,11.575465");
        var destination = new byte[TextRedaction.MaxOutputLength(input.Length)];
        var allocated = Allocations.SteadyState(() => TextRedaction.TryRedact(input, destination, out _), rounds: 1000, warmUpRounds: 100);
        Assert.Equal(0, allocated);
    }

    private static string Redact(string input)
    {
        var bytes = Encoding.UTF8.GetBytes(input);
        var destination = new byte[TextRedaction.MaxOutputLength(bytes.Length)];
        Assert.True(TextRedaction.TryRedact(bytes, destination, out var written));
        return Encoding.UTF8.GetString(destination, 0, written);
    }

    // Expected coordinates come from the coarsening transform itself, so these tests pin what is coarsened, not how.
    private static string Coarse(string number)
    {
        Span<byte> buffer = stackalloc byte[32];
        Assert.True(CoordinateCoarsening.TryCoarsenNumber(Encoding.UTF8.GetBytes(number), 1, buffer, out var written));
        return Encoding.UTF8.GetString(buffer[..written]);
    }

    private static string Fill(string template)
    {
        var result = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            if (template[i] == '{' && template.IndexOf('}', i) is var close and > 0 && close - i > 1 && (char.IsAsciiDigit(template[i + 1]) || template[i + 1] == '-'))
            {
                result.Append(Coarse(template[(i + 1)..close]));
                i = close + 1;
            }
            else
            {
                result.Append(template[i++]);
            }
        }

        return result.ToString();
    }
}
