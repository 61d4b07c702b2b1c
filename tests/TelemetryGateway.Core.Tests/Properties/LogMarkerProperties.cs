using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Tests.Text;

namespace TelemetryGateway.Core.Tests.Properties;

/// <summary>
/// Property-based: a secret planted in a log line behind a random secret marker (any case, bare or as the last part of
/// a dotted, dashed or underscored name), joined by a random joint (blanks, '=', ':', ':=', '=&gt;', '-&gt;', "is", "set
/// to"), quoted or bare, numbered or not ("psk_1"), after a network interface's name when the joint is blanks
/// ("wapi psk wlan0 x"), with random text around it, never survives the scrubber, on a random segmentation.
/// </summary>
public sealed class LogMarkerProperties
{
    public sealed record Case(string Prefix, string Marker, string Joint, string Interface, string Quote, string Secret, string Suffix, Segmentation Segmentation)
    {
        public string Line => $"{Prefix}{Marker}{Joint}{Interface}{Quote}{Secret}{Quote}{Suffix}\n";

        public override string ToString() => $"{Segmentation}: {Line.TrimEnd()}";
    }

    private static Gen<string> Marker =>
        from word in Gen.Elements("password", "passwd", "passphrase", "pwd", "psk", "wpa_passphrase", "wpa_psk", "secret", "token", "api_key", "apikey", "credentials", "wifi_key", "psk_key", "pass", "pw")
        from qualifier in Gen.Elements("", "", "wifi.", "wlan_", "sta-", "mqtt.", "wifi-sec.", "802-11-wireless-security.")
        from casing in Gen.Choose(0, 2)
        from index in Gen.Elements("", "", "", "_1", "-2", "_3")
        let marker = qualifier + word + index
        select casing switch { 0 => marker, 1 => marker.ToUpperInvariant(), _ => char.ToUpperInvariant(marker[0]) + marker[1..] };

    private static Gen<string> Joint => Gen.Elements(" ", "  ", "\t", "=", ": ", ":", " = ", " := ", " => ", " -> ", " is ", " set to ", " was changed to ");

    // Secrets hold a digit and a symbol, as passphrases that policies require do; so weak markers take them too.
    private static Gen<string> Secret =>
        from letters in Gen.Elements("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ".ToCharArray()).ArrayOf().Where(a => a.Length is >= 5 and <= 20)
        from digit in Gen.Choose(0, 9)
        from symbol in Gen.Elements("!", "#", "$", "%", "*", "-", "_", "+", "@", "&")
        select $"{new string(letters)}{digit}{symbol}";

    private static Gen<string> Prefix => Gen.Elements("", "I (1234) app: ", "2026-11-24T10:00:01Z D cfg: ", "$ nmcli con modify x ", "wlan0: ", "<info>  [1700000000.1] ");

    private static Gen<string> Suffix => Gen.Elements("", " ok", ", retry=3", " (saved)", "; done", " rssi=-67");

    public static Arbitrary<Case> Cases() => Arb.From(
        from prefix in Prefix
        from marker in Marker
        from joint in Joint
        from networkInterface in joint.Trim().Length == 0 ? Gen.Elements("", "", "wlan0 ", "wlp2s0 ", "en0 ") : Gen.Constant("")
        from quote in Gen.Elements("", "", "\"", "'", "`")
        from secret in Secret
        from suffix in Suffix
        from segmentation in Gen.Elements(Enum.GetValues<Segmentation>())
        select new Case(prefix, marker, joint, networkInterface, quote, secret, suffix, segmentation));

    [Property(MaxTest = 500, Arbitrary = [typeof(LogMarkerProperties)])]
    public bool A_secret_behind_any_marker_and_joint_never_survives(Case planted)
    {
        var output = LogScrubbing.Scrub(planted.Line, planted.Segmentation);
        return !output.Contains(planted.Secret, StringComparison.OrdinalIgnoreCase);
    }
}
