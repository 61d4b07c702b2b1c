namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// Tables network tools print into logs: the cell under a Wi-Fi name column header is replaced in every row, however
/// long, with the rest of the row kept. All names are made up.
/// </summary>
public sealed class NameColumnsTests
{
    [Fact]
    public void Replaces_the_ssid_cell_of_wpa_cli_scan_results()
    {
        const string Log = "> scan_results\nbssid / frequency / signal level / flags / ssid\n"
            + "58:ef:68:0d:3b:72\t2462\t-47\t[WPA2-PSK-CCMP][ESS]\tLinksys 2.4GHz Guest\n"
            + "6c:3b:6b:a4:12:c0\t5500\t-71\t[WPA2-PSK+SAE-CCMP][ESS]\tTorre Nord\n> quit\n";

        Assert.Equal(
            "> scan_results\nbssid / frequency / signal level / flags / ssid\n"
            + "[mac]\t2462\t-47\t[WPA2-PSK-CCMP][ESS]\t[ssid]\n"
            + "[mac]\t5500\t-71\t[WPA2-PSK+SAE-CCMP][ESS]\t[ssid]\n> quit\n",
            LogScrubbing.ScrubEverySegmentation(Log));
    }

    [Fact]
    public void Replaces_the_ssid_cell_of_wpa_cli_list_networks()
    {
        const string Log = "network id / ssid / bssid / flags\n0\tTorre Nord\tany\t[DISABLED]\n1\tCasa\tany\t[CURRENT]\n\nnext\n";

        Assert.Equal("network id / ssid / bssid / flags\n0\t[ssid]\tany\t[DISABLED]\n1\t[ssid]\tany\t[CURRENT]\n\nnext\n", LogScrubbing.ScrubEverySegmentation(Log));
    }

    [Fact]
    public void Replaces_the_ssid_column_of_nmcli_device_wifi_list()
    {
        const string Log = "IN-USE  BSSID              SSID                       MODE   CHAN  RATE        SIGNAL  BARS  SECURITY\n"
            + "*       2C:91:AB:4E:07:D5  FRITZ!Box 6660 Cable QW    Infra  36    405 Mbit/s  82      ▂▄▆█  WPA2 WPA3\n"
            + "        FA:28:19:3D:7B:64  DIRECT-7B-HP M28 LaserJet  Infra  1     65 Mbit/s   31      ▂▄__  WPA2\n";

        var output = LogScrubbing.ScrubEverySegmentation(Log);

        Assert.DoesNotContain("FRITZ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("LaserJet", output, StringComparison.Ordinal);
        Assert.Contains("[mac]  [ssid]    Infra  36    405 Mbit/s", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replaces_the_network_name_column_of_iwctl()
    {
        const string Log = "                               Known Networks\n"
            + "--------------------------------------------------------------------------------\n"
            + "      Network name                      Security            Last connected\n"
            + "--------------------------------------------------------------------------------\n"
            + "  >   Wohnung 3.OG                      psk                 Feb 21, 10:02 AM\n"
            + "      Nachbar_Gast                      open                Jan 3, 9:15 PM\n\n";

        var output = LogScrubbing.ScrubEverySegmentation(Log);

        Assert.DoesNotContain("Wohnung", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Nachbar", output, StringComparison.Ordinal);
        Assert.Contains("  >   [ssid]                      psk", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replaces_the_ssid_cells_of_a_table_with_bars_between_cells()
    {
        const string Log = "uart:~$ wifi scan\nNum  | SSID                             (len) | Chan (Band)   | RSSI | Security        | BSSID\n"
            + "1    | Werkstatt 2.OG                   14    | 36   (5GHz)   | -49  | WPA2-PSK        | 88:DC:96:4A:11:7B\n"
            + "2    | DIRECT-5E-HP Printer             20    | 6    (2.4GHz) | -77  | WPA2-PSK        | FA:8B:CA:5E:00:21\n"
            + "Scan request done\n";

        var output = LogScrubbing.ScrubEverySegmentation(Log);

        Assert.DoesNotContain("Werkstatt", output, StringComparison.Ordinal);
        Assert.DoesNotContain("DIRECT-5E", output, StringComparison.Ordinal);
        Assert.Contains("1    | [ssid]    | 36   (5GHz)   | -49  | WPA2-PSK        | [mac]", output, StringComparison.Ordinal);
        Assert.EndsWith("Scan request done\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replaces_the_keys_of_a_netplan_access_points_map()
    {
        const string Log = "wifis:\n  wlan0:\n    dhcp4: true\n    access-points:\n      \"Garten Haus\":\n        password: \"Sp4ne&Hobel#9\"\n"
            + "      Werkstatt:\n        hidden: true\n    optional: true\n";

        Assert.Equal(
            "wifis:\n  wlan0:\n    dhcp4: true\n    access-points:\n      [ssid]:\n        password: [secret]\n      [ssid]:\n        hidden: true\n    optional: true\n",
            LogScrubbing.ScrubEverySegmentation(Log));
    }

    [Theory]
    [InlineData("I app: NAME is not a column here\nnext line stays\n")]
    [InlineData("HOSTNAME  UPTIME\nhost-1  3 days\n")]
    [InlineData("I wifi: SSID scan done  Signal ok\n")]
    public void Leaves_lines_that_are_no_table(string log)
    {
        Assert.DoesNotContain("[ssid]", LogScrubbing.ScrubEverySegmentation(log), StringComparison.Ordinal);
    }
}
