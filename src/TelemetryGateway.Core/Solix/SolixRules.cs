using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Solix;

/// <summary>
/// What one purpose keeps of a SOLIX message (the purpose's <c>"solix"</c> section of the policy): whether serials stay
/// clear, which envelope fields, which message types and which of their fields. Compiled once, immutable.
/// </summary>
/// <remarks>
/// <code>
/// "solix": {
///   "serial": "pseudonymize",                       // or "keep": service purposes only
///   "head": ["version", "client_id", "msg_seq", "cmd", "timestamp"],
///   "payload": ["sn", "pn"],                         // "data" is always rewritten and forwarded
///   "messages": { "0405": ["device_sn", "a3", "battery_soc"], "0407": "*" },
///   "unknownMessages": "drop",                       // or "keep": service purposes only
///   "unknownFields": "drop"                          // or "keep": service purposes only
/// }
/// </code>
/// A message type is its hex id; a field is its field byte (<c>"a2"</c>) or a name from the message map. <c>"*"</c>
/// keeps every field the map describes for that type. Wi-Fi names, MACs and IP addresses are never kept.
/// </remarks>
internal sealed class SolixRules : IFormatRules
{
    /// <summary>The <c>head</c> fields a policy may keep, in their order of output.</summary>
    public static readonly string[] HeadFields = ["version", "client_id", "sess_id", "msg_seq", "cmd", "cmd_status", "sign_code", "seed", "timestamp"];

    /// <summary>Index of <c>client_id</c> in <see cref="HeadFields"/>: the serial, treated as <see cref="PseudonymizesSerial"/> says.</summary>
    public const int ClientIdHeadField = 1;

    private static readonly string[] s_payloadFields = ["sn", "pn", "data"];
    private static readonly string[] s_properties = ["serial", "head", "payload", "messages", "unknownMessages", "unknownFields"];

    private readonly FrozenDictionary<ushort, SolixTypeRule> _messages;

    private SolixRules(bool pseudonymizesSerial, bool[] head, bool keepsSn, bool keepsPn, FrozenDictionary<ushort, SolixTypeRule> messages, bool unknownMessages, bool unknownFields)
    {
        PseudonymizesSerial = pseudonymizesSerial;
        KeepsHeadField = head;
        KeepsSn = keepsSn;
        KeepsPn = keepsPn;
        _messages = messages;
        KeepsUnknownMessages = unknownMessages;
        KeepsUnknownFields = unknownFields;
    }

    /// <summary>True when serials (topic, head, payload, binary) become their same-length pseudonym.</summary>
    public bool PseudonymizesSerial { get; }

    bool IFormatRules.PseudonymizesDeviceInPayload => PseudonymizesSerial;

    /// <summary>Indexed like <see cref="HeadFields"/>.</summary>
    public bool[] KeepsHeadField { get; }

    public bool KeepsSn { get; }
    public bool KeepsPn { get; }

    /// <summary>Message types with no rule (or of a model the map does not know) are forwarded: service purposes only.</summary>
    public bool KeepsUnknownMessages { get; }

    /// <summary>Fields the map does not describe are kept (after the serial scan): service purposes only.</summary>
    public bool KeepsUnknownFields { get; }

    /// <summary>The rule for <paramref name="type"/>, or null when this purpose names no such message type.</summary>
    public SolixTypeRule? ForType(ushort type) => _messages.TryGetValue(type, out var rule) ? rule : null;

    /// <summary>Purposes that may see serials in clear and unexamined fields (privacy model: after-sales and recalls).</summary>
    public static bool IsServicePurpose(Purpose purpose) => purpose is Purpose.AfterSalesService or Purpose.SafetyRecall;

    /// <summary>
    /// Compiles a purpose's <c>solix</c> section at <paramref name="path"/>. Every error is reported through
    /// <paramref name="error"/> (JSON path, message); returns null when there was any.
    /// </summary>
    public static SolixRules? Compile(JsonElement section, string path, Purpose purpose, Action<string, string> error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var ok = true;
        void Fail(string at, string message)
        {
            ok = false;
            error(at, message);
        }
        if (section.ValueKind != JsonValueKind.Object)
        {
            Fail(path, "must be an object");
            return null;
        }
        foreach (var property in section.EnumerateObject())
        {
            if (Array.IndexOf(s_properties, property.Name) < 0)
            {
                Fail($"{path}.{property.Name}", $"unknown property; known: {string.Join(", ", s_properties)}");
            }
        }
        var service = IsServicePurpose(purpose);
        var pseudonymize = true;
        if (!section.TryGetProperty("serial", out var serial))
        {
            Fail($"{path}.serial", "is required: 'pseudonymize', or 'keep' (after-sales-service and safety-recall only)");
        }
        else if (serial.ValueKind != JsonValueKind.String || serial.GetString() is not ("keep" or "pseudonymize"))
        {
            Fail($"{path}.serial", "must be 'keep' or 'pseudonymize'");
        }
        else if (serial.GetString() == "keep")
        {
            pseudonymize = false;
            if (!service)
            {
                Fail($"{path}.serial", "'keep' is allowed only for after-sales-service and safety-recall: other purposes see the serial's pseudonym");
            }
        }
        var head = new bool[HeadFields.Length];
        foreach (var (name, at) in Names(section, "head", path, Fail))
        {
            var index = Array.IndexOf(HeadFields, name);
            if (index < 0)
            {
                Fail(at, $"unknown head field '{name}'; known: {string.Join(", ", HeadFields)}");
            }
            else
            {
                head[index] = true;
            }
        }
        var keepsSn = false;
        var keepsPn = false;
        foreach (var (name, at) in Names(section, "payload", path, Fail))
        {
            if (Array.IndexOf(s_payloadFields, name) < 0)
            {
                Fail(at, $"unknown payload field '{name}'; known: {string.Join(", ", s_payloadFields)}");
            }
            keepsSn |= name == "sn";
            keepsPn |= name == "pn";
        }
        var unknownMessages = CompileUnknown(section, "unknownMessages", path, service, Fail);
        var unknownFields = CompileUnknown(section, "unknownFields", path, service, Fail);
        var messages = new Dictionary<ushort, SolixTypeRule>();
        if (section.TryGetProperty("messages", out var messagesElement))
        {
            if (messagesElement.ValueKind != JsonValueKind.Object)
            {
                Fail($"{path}.messages", "must be an object: message type (hex, e.g. \"0405\") to the fields kept");
            }
            else
            {
                foreach (var message in messagesElement.EnumerateObject())
                {
                    var at = $"{path}.messages['{message.Name}']";
                    if (message.Name.Length != 4 || !ushort.TryParse(message.Name, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var type))
                    {
                        Fail(at, "a message type is 4 hex digits, e.g. \"0405\"");
                        continue;
                    }
                    if (!SolixMessageMap.HasType(type))
                    {
                        Fail(at, "is not a message type of the message map");
                        continue;
                    }
                    var rule = CompileType(message.Value, at, type, Fail);
                    if (rule is not null && !messages.TryAdd(type, rule))
                    {
                        Fail(at, "duplicate message type");
                    }
                }
            }
        }
        return ok ? new SolixRules(pseudonymize, head, keepsSn, keepsPn, messages.ToFrozenDictionary(), unknownMessages, unknownFields) : null;
    }

    private static bool CompileUnknown(JsonElement section, string name, string path, bool service, Action<string, string> fail)
    {
        if (!section.TryGetProperty(name, out var element))
        {
            return false;
        }
        if (element.ValueKind != JsonValueKind.String || element.GetString() is not ("keep" or "drop"))
        {
            fail($"{path}.{name}", "must be 'keep' or 'drop'");
            return false;
        }
        if (element.GetString() == "keep" && !service)
        {
            fail($"{path}.{name}", "'keep' is allowed only for after-sales-service and safety-recall: other purposes fail closed ('drop')");
            return false;
        }
        return element.GetString() == "keep";
    }

    private static SolixTypeRule? CompileType(JsonElement element, string path, ushort type, Action<string, string> fail)
    {
        if (element.ValueKind == JsonValueKind.String && element.GetString() == "*")
        {
            return new SolixTypeRule(allFields: true, new bool[256], new bool[SolixMessageMap.NameCount]);
        }
        if (element.ValueKind != JsonValueKind.Array)
        {
            fail(path, "must be \"*\" or an array of field bytes (\"a2\") and field names (\"device_sn\")");
            return null;
        }
        var fields = SolixMessageMap.FieldsOfType(type);
        var bytes = new bool[256];
        var names = new bool[SolixMessageMap.NameCount];
        var ok = true;
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var at = $"{path}[{index++}]";
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(item.GetString()))
            {
                fail(at, "must be a field byte or a field name");
                ok = false;
                continue;
            }
            var id = item.GetString()!;
            SolixMappedField? named = null;
            if (id.Length == 2 && byte.TryParse(id, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var fieldByte))
            {
                named = fields.FirstOrDefault(f => f.Id == fieldByte);
                bytes[fieldByte] = named is not null;
            }
            else
            {
                var nameId = SolixMessageMap.NameId(id);
                named = nameId < 0 ? null : fields.FirstOrDefault(f => Array.IndexOf(f.NameIds, nameId) >= 0);
                if (named is not null)
                {
                    names[nameId] = true;
                }
            }
            if (named is null)
            {
                fail(at, $"'{id}' is not a field of message type {type:x4} in the message map");
                ok = false;
            }
            else if (named.IsNeverForwarded)
            {
                fail(at, $"'{id}' is a {named.Kind switch { SolixFieldKind.WifiName => "Wi-Fi name", SolixFieldKind.Mac => "MAC address", SolixFieldKind.IpAddress => "IP address", SolixFieldKind.Location => "location", _ => "secret" }} field, which is never forwarded");
                ok = false;
            }
        }
        return ok ? new SolixTypeRule(allFields: false, bytes, names) : null;
    }

    private static List<(string Name, string Path)> Names(JsonElement section, string property, string path, Action<string, string> fail)
    {
        var names = new List<(string, string)>();
        if (!section.TryGetProperty(property, out var element))
        {
            return names;
        }
        if (element.ValueKind != JsonValueKind.Array)
        {
            fail($"{path}.{property}", "must be an array of field names");
            return names;
        }
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var at = $"{path}.{property}[{index++}]";
            if (item.ValueKind != JsonValueKind.String)
            {
                fail(at, "must be a field name");
                continue;
            }
            names.Add((item.GetString()!, at));
        }
        return names;
    }
}

/// <summary>Which fields of one message type a purpose keeps: by field byte, by map name, or all that the map describes.</summary>
internal sealed class SolixTypeRule(bool allFields, bool[] bytes, bool[] names)
{
    /// <summary>True when this rule keeps <paramref name="field"/> (a field of the message map).</summary>
    public bool Keeps(SolixMappedField field)
    {
        if (allFields || bytes[field.Id])
        {
            return true;
        }
        foreach (var id in field.NameIds)
        {
            if (names[id])
            {
                return true;
            }
        }
        return false;
    }
}
