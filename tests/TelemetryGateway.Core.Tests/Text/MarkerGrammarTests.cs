namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// The marker grammar on lines shaped like those of real network stacks and firmware (ESP-IDF, wpa_supplicant,
/// NetworkManager and nmcli, iw and iwconfig, hostapd, systemd-networkd, iwd, OpenWrt, Android): a value after a
/// marker is found whatever joins them. Every case runs on single-segment, multi-segment and one-byte-per-segment
/// input. All values are made up.
/// </summary>
public sealed class MarkerGrammarTests
{
    [Theory]
    [InlineData("wpa_cli -i wlan0 set_network 0 psk '\"Sommer 2026!\"'", "wpa_cli -i wlan0 set_network 0 psk [secret]")]
    [InlineData("set_network 0 psk \"\\\"Zebra7909\\\"\" OK", "set_network 0 psk [secret] OK")]
    [InlineData("nmcli dev wifi connect Casa password hunter2-Rossi", "nmcli dev wifi connect [ssid] password [secret]")]
    [InlineData("nmcli con modify Home wifi-sec.psk Tr0ub4dor&3", "nmcli con modify [ssid] wifi-sec.psk [secret]")]
    [InlineData("iwconfig wlan0 essid \"Casa Rossi\" key s:Kiwi1234", "iwconfig wlan0 essid [ssid] key [secret]")]
    [InlineData("uci set wireless.@wifi-iface[0].key='Garten!2026'", "uci set wireless.@wifi-iface[0].key=[secret]")]
    [InlineData("\toption key 'Garten 2026'", "\toption key [secret]")]
    [InlineData("wpa_passphrase \"Casa Rossi\" Tr0ub4dor", "wpa_passphrase [secret]")]
    [InlineData("wpa_passphrase Casa Tr0ub4dor", "wpa_passphrase [secret]")]
    [InlineData("Passphrase=correct horse", "Passphrase=[secret] horse")]
    [InlineData("the Wi-Fi password is Zebra7909 now", "the Wi-Fi password is [secret] now")]
    [InlineData("I app: set passphrase to Korb8768!x", "I app: set passphrase to [secret]")]
    [InlineData("I app: password changed to `Korb 8768`", "I app: password changed to [secret]")]
    [InlineData("I prov: using password Korb8768 for provisioning", "I prov: using password [secret] for provisioning")]
    [InlineData("D cfg: wifi.password := Korb8768", "D cfg: wifi.password := [secret]")]
    [InlineData("D cfg: sta-pass => 'Korb8768'", "D cfg: sta-pass => [secret]")]
    [InlineData("D cfg: wlan_psk -> Korb8768", "D cfg: wlan_psk -> [secret]")]
    [InlineData("D cfg: psk_key Korb8768", "D cfg: psk_key [secret]")]
    [InlineData("wpa_cli wps_pin any 12345670", "wpa_cli wps_pin any [secret]")]
    [InlineData("WPS PIN: 12345670", "WPS PIN: [secret]")]
    [InlineData("mqtt: token eyJhbGciOi.eyJzdWIi.c2lnbmF0", "mqtt: token [secret]")]
    [InlineData("http: Authorization Bearer eyJhbGciOi.eyJzdWIi", "http: Authorization Bearer [secret]")]
    [InlineData("Config: added 'psk' value 'Sommer2026'", "Config: added 'psk' value [secret]")]
    [InlineData("the password for Casa Rossi: Sommer2026", "the password for [secret]")]
    [InlineData("The Wi-Fi passphrase for Casa Rossi has been set to Sommer!2026.", "The Wi-Fi passphrase for [secret]")]
    [InlineData("api_key abc123def456 loaded", "api_key [secret] loaded")]
    [InlineData("credentials admin/S3cret!", "credentials [secret]")]
    [InlineData("    Key Content            : Sommer!2026", "    Key Content            : [secret]")]
    [InlineData("Passphrase? Baguette;Fromage=2", "Passphrase? [secret]")]
    [InlineData("nvs: key 'wifi.psk' = 'Sommer!2026'", "nvs: key 'wifi.psk' = [secret]")]
    [InlineData("sudo raspi-config nonint do_wifi_ssid_passphrase \"Casa Rossi\" \"Sommer!2026\"", "sudo raspi-config nonint do_wifi_ssid_passphrase [secret]")]
    public void Finds_a_secret_after_a_marker_whatever_joins_them(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("wlan0: Trying to associate with SSID 'Casa Rossi 5G'", "wlan0: Trying to associate with SSID [ssid]")]
    [InlineData("wlan0: CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=\"Casa Rossi\" auth_failures=1", "wlan0: CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=[ssid] auth_failures=1")]
    [InlineData("I (2345) wifi:connected with Casa Rossi 5G, aid = 1, channel 6, BW20", "I (2345) wifi:connected with [ssid], aid = 1, channel 6, BW20")]
    [InlineData("<info>  [1700000000.1234] device (wlan0): Activation: starting connection 'Casa Rossi' (9f1c)", "<info>  [1700000000.1234] device (wlan0): Activation: starting connection [ssid] (9f1c)")]
    [InlineData("<info>  [1700000000.5] policy: auto-activating connection 'FRITZ!Box 7590 XY' (9f1c)", "<info>  [1700000000.5] policy: auto-activating connection [ssid] (9f1c)")]
    [InlineData("<info>  [1700000000.5] Config: added 'ssid' value 'Casa Rossi'", "<info>  [1700000000.5] Config: added 'ssid' value [ssid]")]
    [InlineData("Connected to wireless network 'Linksys 2.4GHz Guest'.", "Connected to wireless network [ssid].")]
    [InlineData("wlan0: Connected WiFi access point: Casa Rossi (00:11:22:33:44:55)", "wlan0: Connected WiFi access point: [ssid] ([mac])")]
    [InlineData("\tSSID: Casa Rossi 5G\n\tfreq: 2437", "\tSSID: [ssid]\n\tfreq: 2437")]
    [InlineData("I app: Wi-Fi name: Casa Rossi", "I app: Wi-Fi name: [ssid]")]
    [InlineData("I wifi: joined Casa Rossi on channel 6", "I wifi: joined [ssid] on channel 6")]
    [InlineData("iw dev wlan0 connect \"Vodafone-A1B2C3\"", "iw dev wlan0 connect [ssid]")]
    [InlineData("D WifiInfo: SSID: \"Casa Rossi\", BSSID: 02:00:00:00:00:00, RSSI: -50", "D WifiInfo: SSID: [ssid], BSSID: [mac], RSSI: -50")]
    [InlineData("option ssid 'Café Wi-Fi'", "option ssid [ssid]")]
    [InlineData("wifi_prov_mgr: Received Wi-Fi credentials SSID: Casa Password: Sommer2026", "wifi_prov_mgr: Received Wi-Fi credentials SSID: [ssid] Password: [secret]")]
    [InlineData("dhcpcd[1]: wlan0: connected to Access Point `Casa Rossi'", "dhcpcd[1]: wlan0: connected to Access Point [ssid]")]
    [InlineData("iwd[1]: event: connect-info, ssid: Casa Rossi, bss: 00:11:22:33:44:55, signal: -55", "iwd[1]: event: connect-info, ssid: [ssid], bss: [mac], signal: -55")]
    [InlineData("ConnMan: Connecting to Casa Rossi with passphrase Sommer!2026", "ConnMan: Connecting to [ssid] with passphrase [secret]")]
    [InlineData("setup: WIFI_SSID=Casa Rossi WIFI_PASS=Sommer!2026", "setup: WIFI_SSID=[ssid] WIFI_PASS=[secret]")]
    [InlineData("Provisioning: received network name \"Casa Rossi\" and key \"Sommer!2026\"", "Provisioning: received network name [ssid] and key [secret]")]
    [InlineData("W (4567) wifi:connected with Casa, aid = 1", "W (4567) wifi:connected with [ssid], aid = 1")]
    [InlineData("WifiConfigManager: Adding/Updating network Casa Rossi", "WifiConfigManager: Adding/Updating network [ssid]")]
    [InlineData("[18:02:14][I][wifi:541]: - 'Schrebergarten 12' (0C:80:63:AB:02:F5) -61 dB", "[18:02:14][I][wifi:541]: - [ssid] ([mac]) -61 dB")]
    [InlineData("W (3456) app: AP \"Casa Rossi\" not found, retrying", "W (3456) app: AP [ssid] not found, retrying")]
    [InlineData("WIF: Connecting to AP1 Casa Rossi Channel 6 BSSId 00:11:22:33:44:55", "WIF: Connecting to AP1 [ssid] Channel 6 BSSId [mac]")]
    [InlineData("ESPHome [C][wifi:428]:   SSID: [redacted]", "ESPHome [C][wifi:428]:   SSID: [redacted]")]
    public void Finds_a_wifi_name_however_a_network_stack_announces_it(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("AT+CWJAP=\"Casa Rossi\",\"Sommer!2026\"", "AT+CWJAP=[ssid],[secret]")]
    [InlineData("AT+CWJAP_DEF=\"Casa\",\"Sommer!2026\",\"ca:d7:19:d8:a6:44\"", "AT+CWJAP_DEF=[ssid],[secret],\"[mac]\"")]
    [InlineData("+CWJAP:\"Casa Rossi\",\"ca:d7:19:d8:a6:44\",6,-52,0,0,3,0,1", "+CWJAP:[ssid],\"[mac]\",6,-52,0,0,3,0,1")]
    [InlineData("AT+CWSAP=\"Setup-AP\",\"Sommer!2026\",5,3", "AT+CWSAP=[ssid],[secret],5,3")]
    [InlineData("+CWLAP:(3,\"Casa Rossi\",-42,\"ca:d7:19:d8:a6:44\",1)", "+CWLAP:(3,[ssid],-42,\"[mac]\",1)")]
    [InlineData("AT+MQTTUSERCFG=0,1,\"dev-01\",\"device01\",\"Sommer!2026\",0,0,\"\"", "AT+MQTTUSERCFG=0,1,[secret],[secret],[secret],0,0,\"\"")]
    [InlineData("setup: WiFi.begin(\"Casa Rossi\", \"Sommer!2026\");", "setup: WiFi.begin([ssid], [secret]);")]
    [InlineData("WiFi.softAP(\"Setup-AP\", \"Sommer!2026\")", "WiFi.softAP([ssid], [secret])")]
    [InlineData("uart:~$ wifi connect -s \"Labor 3.OG\" -p \"f3rmi0n+Lab!\" -k 1", "uart:~$ wifi connect -s [ssid] -p [secret] -k 1")]
    [InlineData("uart:~$ wifi ap enable -s Setup-AP -c 6 -k 1 -p provision123", "uart:~$ wifi ap enable -s [ssid] -c 6 -k 1 -p [secret]")]
    [InlineData("$ networksetup -setairportnetwork en0 \"Tom's iPhone (2)\" \"hunter2-but-longer\"", "$ networksetup -setairportnetwork en0 [secret]")]
    [InlineData("$ chip-tool pairing ble-wifi 0x12 \"Oak Street Mesh\" \"Ivy+Rose=2\" 20202021 3840", "$ chip-tool pairing ble-wifi 0x12 [secret] 20202021 3840")]
    [InlineData("$ chip-tool pairing code-wifi 7 Attic_2G s3cret-Attic MT:Y.K90SO527JA0648G00", "$ chip-tool pairing code-wifi 7 [secret] MT:Y.K90SO527JA0648G00")]
    public void Replaces_wifi_names_and_passphrases_passed_by_position(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Theory]
    [InlineData("mqtt: connect mqtts://WK1DEGZD8PCF32ER:s3cr3t-Pa55@broker.example.com:8883", "mqtt: connect mqtts://[secret]@broker.example.com:8883")]
    [InlineData("amqp://guest:Sommer2026@10.0.0.5:5672/vhost", "amqp://[secret]@10.0.0.0:5672/vhost")]
    [InlineData("redis://:Sommer2026@cache:6379", "redis://[secret]@cache:6379")]
    [InlineData("ws://token123abc@host/mqtt", "ws://[secret]@host/mqtt")]
    public void Replaces_the_user_info_of_a_url_in_any_scheme(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    [Fact]
    public void Replaces_user_info_that_holds_the_device_serial_before_the_serial_rule()
    {
        var output = LogScrubbing.Scrub("mqtt: connect mqtts://WK1DEGZD8PCF32ER:s3cr3t-Pa55@broker.example.com:8883", serial: "WK1DEGZD8PCF32ER");

        Assert.Equal("mqtt: connect mqtts://[secret]@broker.example.com:8883", output);
    }

    [Theory]
    [InlineData("wlan0: WPA: Key negotiation completed with 00:11:22:33:44:55 [PTK=CCMP GTK=CCMP]")]
    [InlineData("hostapd: wlan0: STA 00:11:22:33:44:55 WPA: pairwise key handshake completed (RSN)")]
    [InlineData("wlan0: WPA: 4-Way Handshake failed - pre-shared key may be incorrect")]
    [InlineData("sshd: password authentication failed for user")]
    [InlineData("I mqtt: token expired, refreshing")]
    [InlineData("E app: password is incorrect")]
    [InlineData("W app: passphrase too short")]
    [InlineData("I wifi: scan done, 6 networks")]
    [InlineData("I net: network unreachable")]
    [InlineData("I cloud: connected to broker")]
    [InlineData("I test: pass 3 of 5")]
    [InlineData("I app: password has been changed")]
    [InlineData("I ota: fw 1.2.3 -> 1.2.4")]
    [InlineData("I wifi:state: init -> auth (b0)")]
    [InlineData("I (1234) wifi:mode : sta (30:ae:a4:00:00:00)")]
    [InlineData("I app: pin 4 set high")]
    [InlineData("W (4567) wifi:Haven't to connect to a suitable AP now!")]
    [InlineData("I app: connecting to the cloud broker")]
    [InlineData("$ tar -s -p archive.tar")]
    [InlineData("netsh wlan set hostednetwork mode=allow")]
    [InlineData("    Security key           : Present")]
    [InlineData("I net: network interface wlan0 up")]
    [InlineData("app[42]: joined group telemetry-workers as member 3")]
    [InlineData("app[42]: switched to backup link")]
    [InlineData("app[42]: joined multicast group 239.1.1.1")]
    [InlineData("sshd[123]: Failed password for invalid user admin from 10.0.0.5 port 51234 ssh2")]
    [InlineData("app[42]: using default password policy (min length 12)")]
    [InlineData("app[42]: api key missing for endpoint /v1/status")]
    [InlineData("W bms: cell 3 temp 9.1C soc 76%")]
    [InlineData("wlan0: CTRL-EVENT-DISCONNECTED bssid=[mac] reason=3 locally_generated=1")]
    public void Leaves_prose_that_only_mentions_a_marker(string line)
    {
        var output = LogScrubbing.ScrubEverySegmentation(line);

        Assert.DoesNotContain("[secret]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[ssid]", output, StringComparison.Ordinal);
    }

    // The fourth held-out round's classes of syntax (tests/testdata/logs/held-out-4.ndjson): configuration lines keyed
    // first on their line, numbered keys, an interface named before the value, calls and AT commands that pass a
    // network by position, scan rows and tuples naming a network before its BSSID, lists of names, iwd's hex file
    // names, a captive portal's one-letter parameters.
    [Theory]
    [InlineData("    wpa-psk  \"Kuhglocke!Alm9\"", "    wpa-psk  [secret]")]
    [InlineData("    wpa-psk 6f3c1e9a2b7d4058a1c2e3f40516273849abcdef0123456789fedcba98765432", "    wpa-psk [secret]")]
    [InlineData("    wpa-ssid Stall_AP", "    wpa-ssid [ssid]")]
    [InlineData("WIRELESS_ESSID_1='Nachbar Gast'", "WIRELESS_ESSID_1=[ssid]")]
    [InlineData("WIRELESS_WPA_PSK_1='gast2gast!'", "WIRELESS_WPA_PSK_1=[secret]")]
    [InlineData("nsh> wapi psk wlan0 Regen&Bogen77 3", "nsh> wapi psk wlan0 [secret] 3")]
    [InlineData("nsh> wapi essid wlan0 \"Lager Halle 3\" 1", "nsh> wapi essid wlan0 [ssid] 1")]
    [InlineData(">>> wlan.connect('Kita Sonnenblume', 'Bunt$tift-77')", ">>> wlan.connect([ssid], [secret])")]
    [InlineData("wifi.radio.connect(\"Werkbank\", \"Lötzinn#60/40\")", "wifi.radio.connect([ssid], [secret])")]
    [InlineData("[(b'Kita Sonnenblume', b'\\xf4\\x92\\xbf\\x9a\\x8b\\xec', 6, -61, 3, False)]", "[(b[ssid], b'[mac]', 6, -61, 3, False)]")]
    [InlineData("[\"Garten Haus\", \"3c:a6:2f:11:22:33\"]", "[[ssid], \"[mac]\"]")]
    [InlineData("AT+QSTAAPINFO=\"Kanzlei Huber & Partner\",\"Paragraf§12-B\"", "AT+QSTAAPINFO=[ssid],[secret]")]
    [InlineData("AT+QMTCONN=0,\"meter-7\",\"jana.k\",\"Zähler*Stand9\"", "AT+QMTCONN=0,[secret],[secret],[secret]")]
    [InlineData("WIFI : Connecting Pfarrhaus Gast attempt #0", "WIFI : Connecting [ssid] attempt #0")]
    [InlineData("[61250] Connecting to WiFi: Wintergarten 2", "[61250] Connecting to WiFi: [ssid]")]
    [InlineData("Network: Praxis Dr. Weber secured: WPA2 BSSID: 10:FE:ED:aa:bb:cc RSSI: -52 Ch: 1", "Network: [ssid] secured: WPA2 BSSID: [mac] RSSI: -52 Ch: 1")]
    [InlineData("Access points: [\"Ferienhof Kranich\", \"Vodafone-7C21\"]", "Access points: [ssid]")]
    [InlineData("MQTT : Connected to broker with client ID: ESPClient_5C:CF:7F:AA:BB:01", "MQTT : Connected to broker with client ID: ESPClient_[mac]")]
    [InlineData("wpa_cli -i wlan0 wps_reg 9c:53:22:1a:7e:06 71926430 486175736e65747a204f62656e WPA2PSK CCMP 4b34747a65214d347573", "wpa_cli -i wlan0 wps_reg [mac] [secret] [ssid] WPA2PSK CCMP [secret]")]
    [InlineData("cat '/var/lib/iwd/=576f686e756e6720332e4f47.psk'", "cat '/var/lib/iwd/=[ssid].psk'")]
    [InlineData("GET /wifisave?s=Casa%20Rossi&p=Sommer!2026 HTTP/1.1", "GET /wifisave?s=[ssid]&p=[secret] HTTP/1.1")]
    [InlineData("       AP: e8:48:b8:01:02:03", "       AP: [mac]")]
    [InlineData("$ mos wifi \"Dachgeschoss Links\" \"Ziegel_Rot+3\"", "$ mos wifi [secret]")]
    public void Finds_values_in_configuration_lines_commands_and_scan_rows(string line, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(line));
    }

    // What those rules must leave alone: years, readings, netmasks, code, services, query strings off Wi-Fi paths.
    [Theory]
    [InlineData("Copyright 2004-2022 Internet Systems Consortium.")]
    [InlineData("  BitRate: 72200000")]
    [InlineData("WIFI : DHCP IP: 10.0.0.0 SN: 255.255.255.0   duration: 301 ms")]
    [InlineData(">>> wlan = network.WLAN(network.STA_IF)")]
    [InlineData("Connected to Arduino IoT Cloud")]
    [InlineData("GET /save?s=1&p=2 HTTP/1.1")]
    [InlineData("key_mgmt=WPA-PSK")]
    [InlineData("I wifi: connecting 3 networks")]
    public void Leaves_what_the_new_rules_must_not_take(string line)
    {
        Assert.Equal(line, LogScrubbing.ScrubEverySegmentation(line));
    }
}
