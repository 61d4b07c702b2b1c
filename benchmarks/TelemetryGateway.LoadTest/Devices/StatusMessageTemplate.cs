using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TelemetryGateway.LoadTest.Devices;

/// <summary>
/// A status message of the test corpus (<c>tests/testdata/corpus/messages.ndjson</c>) with its serial number and
/// <c>"ts"</c> value cut out, so a simulated device can stamp its own serial and the send time into it.
/// </summary>
internal sealed partial record StatusMessageTemplate(string ProductNumber, string Serial, string PayloadText)
{
    /// <summary>The status lines of the corpus, in file order.</summary>
    public static IReadOnlyList<StatusMessageTemplate> LoadCorpus(string path)
    {
        var templates = new List<StatusMessageTemplate>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var topic = root.GetProperty("topic").GetString() ?? "";
            var parts = topic.Split('/');
            if (parts is not ["dt", _, var productNumber, var serial, "status"]
                || root.GetProperty("contentType").GetString() != "application/json"
                || root.GetProperty("payloadText").GetString() is not { } payload
                || !TsField().IsMatch(payload))
            {
                continue;
            }
            templates.Add(new StatusMessageTemplate(productNumber, serial, payload));
        }
        if (templates.Count == 0)
        {
            throw new InvalidDataException($"{path}: no status messages (topic dt/<brand>/<pn>/<sn>/status with a \"ts\" field)");
        }
        return templates;
    }

    /// <summary>
    /// The payload for a device with serial <paramref name="serial"/>, split around the <c>ts</c> value: the
    /// device writes prefix, the send time in microseconds, suffix.
    /// </summary>
    public (byte[] Prefix, byte[] Suffix) ForDevice(string serial)
    {
        var text = PayloadText.Replace(Serial, serial, StringComparison.Ordinal);
        var match = TsField().Match(text);
        var prefix = text[..(match.Groups["value"].Index)];
        var suffix = text[(match.Groups["value"].Index + match.Groups["value"].Length)..];
        return (Encoding.UTF8.GetBytes(prefix), Encoding.UTF8.GetBytes(suffix));
    }

    [GeneratedRegex("\"ts\"\\s*:\\s*(?<value>-?[0-9]+)")]
    private static partial Regex TsField();
}
