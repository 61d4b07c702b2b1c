using System.Text.Json;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The <c>text</c> rules of a log purpose; all optional, with safe defaults (serial pseudonymized, IPv4 /24, IPv6 /48,
/// one coordinate decimal). Secrets, Wi-Fi names, e-mail addresses, phone numbers and MAC addresses are always
/// replaced: no rule keeps them.
/// </summary>
internal sealed class LogScrubRulesCompiler : FormatRulesCompiler
{
    public override string[] PurposeProperties => ["text"];

    public override IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path)
    {
        if (!element.TryGetProperty("text", out var text))
        {
            return LogScrubRules.Default;
        }
        var textPath = PolicyReader.Child(path, "text");
        if (!reader.ExpectKind(text, textPath, JsonValueKind.Object))
        {
            return null;
        }
        reader.CheckProperties(text, textPath, "serial", "ipv4PrefixLength", "ipv6PrefixLength", "decimals", "maxLineLength");
        var serial = LogScrubRules.Default.Serial;
        var valid = true;
        if (text.TryGetProperty("serial", out var serialElement)
            && reader.ExpectKind(serialElement, PolicyReader.Child(textPath, "serial"), JsonValueKind.String))
        {
            switch (serialElement.GetString())
            {
                case "keep":
                    serial = SerialHandling.Keep;
                    break;
                case "pseudonymize":
                    serial = SerialHandling.Pseudonymize;
                    break;
                case "drop":
                    serial = SerialHandling.Drop;
                    break;
                default:
                    reader.Error(PolicyReader.Child(textPath, "serial"), $"'{serialElement.GetString()}' is not a serial handling; known: keep, pseudonymize, drop");
                    valid = false;
                    break;
            }
        }
        var errorsBefore = reader.ErrorCount;
        var rules = new LogScrubRules
        {
            Serial = serial,
            Ipv4PrefixLength = reader.OptionalInt(text, textPath, "ipv4PrefixLength", LogScrubRules.Default.Ipv4PrefixLength, 0, 32),
            Ipv6PrefixLength = reader.OptionalInt(text, textPath, "ipv6PrefixLength", LogScrubRules.Default.Ipv6PrefixLength, 0, 128),
            CoordinateDecimals = reader.OptionalInt(text, textPath, "decimals", LogScrubRules.Default.CoordinateDecimals, 0, 6),
            MaxLineLength = reader.OptionalInt(
                text, textPath, "maxLineLength", LogScrubRules.Default.MaxLineLength, LogScrubRules.MinLineLength, LogScrubRules.MaxLineLengthLimit),
        };
        return valid && reader.ErrorCount == errorsBefore ? rules : null;
    }
}
