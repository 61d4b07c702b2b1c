using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Benchmarks.Logs;

/// <summary>
/// The baseline: the same log rules written the straightforward way, as a chain of compiled
/// <see cref="Regex.Replace(string, MatchEvaluator)"/> calls over the decoded text, with the same markers, the same
/// IP truncation, coordinate coarsening and pseudonym, so on the corpus it writes the same bytes as the scrubber.
/// </summary>
public sealed class RegexLogScrubber
{
    private const RegexOptions Options = RegexOptions.Compiled | RegexOptions.CultureInvariant;
    private const RegexOptions IgnoreCase = Options | RegexOptions.IgnoreCase;

    private static readonly Regex Secret = new(
        """(?<key>\b(?:[\w-]*[_-])?(?:password|passwd|pwd|pass|psk|passphrase|secret|token|key|apikey)["']?[ \t]*[:=][ \t]*)(?:"[^"\r\n]*"?|'[^'\r\n]*'?|[^\s,;&]+)""",
        IgnoreCase);

    private static readonly Regex Ssid = new(
        """(?<key>\b(?:[\w-]*[_-])?(?:ssid|essid|wifi_name)["']?[ \t]*[:=][ \t]*)(?:"[^"\r\n]*"?|'[^'\r\n]*'?|[^\s,;&]+)""",
        IgnoreCase);

    private static readonly Regex Email = new("""[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b""", Options);

    private static readonly Regex Mac = new(
        """\b[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}\b|\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b""",
        Options);

    private static readonly Regex Ipv6 = new(
        """(?<![\w:.])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|:(?::[0-9A-Fa-f]{1,4}){1,7}|::(?:ffff:)?(?:\d{1,3}\.){3}\d{1,3})(?![\w:])""",
        Options);

    private static readonly Regex Ipv4 = new("""(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)""", Options);

    private static readonly Regex CoordinateMarker = new(
        """(?<key>\b(?:[\w-]*[_-])?(?:lat|latitude|lon|lng|longitude)["']?[ \t]*[:=][ \t]*)(?<value>-?\d{1,3}(?:\.\d+)?)(?![\d.])""",
        IgnoreCase);

    private static readonly Regex CoordinatePair = new("""(?<![\w.])(?<a>-?\d{1,2}\.\d{3,})(?<sep> {0,4}, {0,4})(?<b>-?\d{1,3}\.\d{3,})(?![\d.])""", Options);

    private static readonly Regex Phone = new(
        """(?<![\w.:-])(?:\+\d{1,3}(?:[ -]?\(\d{1,5}\))?(?:[ -]?\d{2,8}){1,4}|\(\d{3}\) ?\d{3}-\d{4}|0\d{2,4}[ /-]\d{5,8}|\d{3}-\d{3}-\d{4})(?![\w.:-])""",
        Options);

    private readonly Regex _serial;
    private readonly string _serialReplacement;
    private readonly MatchEvaluator _truncateIp;
    private readonly MatchEvaluator _coarsenMarker;
    private readonly MatchEvaluator _coarsenPair;

    public RegexLogScrubber(string serial, string serialReplacement)
    {
        _serial = new Regex(Regex.Escape(serial), IgnoreCase);
        _serialReplacement = serialReplacement;
        _truncateIp = match => TruncateIp(match.Value);
        _coarsenMarker = match => match.Groups["key"].Value + Coarsen(match.Groups["value"].Value);
        _coarsenPair = match => Coarsen(match.Groups["a"].Value) + match.Groups["sep"].Value + Coarsen(match.Groups["b"].Value);
    }

    public string Scrub(string text)
    {
        text = _serial.Replace(text, _serialReplacement);
        text = Secret.Replace(text, "${key}[secret]");
        text = Ssid.Replace(text, "${key}[ssid]");
        text = Email.Replace(text, "[email]");
        text = Mac.Replace(text, "[mac]");
        text = Ipv6.Replace(text, _truncateIp);
        text = Ipv4.Replace(text, _truncateIp);
        text = CoordinateMarker.Replace(text, _coarsenMarker);
        text = CoordinatePair.Replace(text, _coarsenPair);
        return Phone.Replace(text, "[phone]");
    }

    private static string TruncateIp(string address)
    {
        var destination = new byte[address.Length + 48];
        return IpTruncation.TryTruncate(Encoding.UTF8.GetBytes(address), IpTruncation.DefaultIpv4PrefixLength, IpTruncation.DefaultIpv6PrefixLength, destination, out var written)
            ? Encoding.UTF8.GetString(destination, 0, written)
            : "[ip]";
    }

    private static string Coarsen(string number) =>
        Math.Round(double.Parse(number, CultureInfo.InvariantCulture), CoordinateCoarsening.DefaultDecimals, MidpointRounding.AwayFromZero)
            .ToString("F1", CultureInfo.InvariantCulture);
}
