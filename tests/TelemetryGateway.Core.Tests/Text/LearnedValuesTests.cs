namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// A value a log revealed after a marker is removed wherever it recurs later in that log, and only there: whole words,
/// any letter case, raw or URL-encoded; values too short or made of digits are not learned. All values are made up.
/// </summary>
public sealed class LearnedValuesTests
{
    [Theory]
    [InlineData("nmcli con modify Home wifi-sec.psk Rotated-Q3!\nRotated-Q3!\n", "nmcli con modify [ssid] wifi-sec.psk [secret]\n[secret]\n")]
    [InlineData("wlan0: Trying to associate with SSID 'Torre Nord'\n0\tTorre Nord\tany\t[CURRENT]\n", "wlan0: Trying to associate with SSID [ssid]\n0\t[ssid]\tany\t[CURRENT]\n")]
    [InlineData("psk=Sommer2026\nretry with SOMMER2026 failed\n", "psk=[secret]\nretry with [secret] failed\n")]
    [InlineData("ssid=\"Haus am See\"\nid_str=%22Haus+am+See%22\n", "ssid=[ssid]\nid_str=%22[ssid]%22\n")]
    [InlineData("mqtt://device:Zq8-RkP2vN@cache:6379\nauth failed for Zq8-RkP2vN\n", "mqtt://[secret]@cache:6379\nauth failed for [secret]\n")]
    public void Removes_a_revealed_value_wherever_it_recurs_in_the_log(string log, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(log));
    }

    [Theory]
    [InlineData("psk=Abc12\nAbc12 again\n", "psk=[secret]\nAbc12 again\n")]
    [InlineData("wps_pin=123456\nuptime 123456 ms\n", "wps_pin=[secret]\nuptime 123456 ms\n")]
    public void Does_not_learn_short_or_numeric_values(string log, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(log));
    }

    [Fact]
    public void Does_not_mangle_a_word_that_merely_contains_a_learned_value()
    {
        const string Log = "ssid=Garten\nGartenhaus lights on, Gartenzwerg ok, garten ok\n";

        Assert.Equal("ssid=[ssid]\nGartenhaus lights on, Gartenzwerg ok, [ssid] ok\n", LogScrubbing.ScrubEverySegmentation(Log));
    }

    [Fact]
    public void Forgets_what_a_log_revealed_when_the_next_log_begins()
    {
        Assert.Equal("psk=[secret]\n", LogScrubbing.Scrub("psk=Sommer2026\n"));
        Assert.Equal("Sommer2026 is a plain word here\n", LogScrubbing.Scrub("Sommer2026 is a plain word here\n"));
    }
}
