using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml;
using Google.Protobuf.Reflection;
using TelemetryGateway.Core.Protobuf;
using TelemetryGateway.Core.Solix;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// Validates a policy file and compiles it into a <see cref="CompiledPolicy"/>. Validation does not stop at the
/// first problem: it walks the whole document and reports every error with its JSON path.
/// </summary>
public static class PolicyCompiler
{

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 64,
    };

    /// <summary>Reads and compiles a policy file; throws <see cref="PolicyValidationException"/> listing every error.</summary>
    public static CompiledPolicy CompileFile(string path)
    {
        var compilation = Compile(File.ReadAllBytes(path));
        return compilation.Policy ?? throw new PolicyValidationException(path, compilation.Errors);
    }

    public static PolicyCompilation Compile(ReadOnlySpan<byte> utf8Json)
    {
        var errors = new List<PolicyError>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), s_documentOptions);
        }
        catch (JsonException e)
        {
            errors.Add(new PolicyError("$", $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})"));
            return new PolicyCompilation(null, errors);
        }
        using (document)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(utf8Json))[..12];
            var policy = new Compiler(errors, hash).CompileRoot(document.RootElement);
            return new PolicyCompilation(errors.Count == 0 ? policy : null, errors);
        }
    }

    private sealed class Compiler(List<PolicyError> errors, string contentHash)
    {
        private static readonly string[] s_commonPurposeProperties = ["legalBasis", "retention", "topic", "captures", "description"];

        private string _policyTag = string.Empty;

        // The message type of the protobuf stream being compiled (its "message"), which its purposes' fields name fields of.
        private MessageDescriptor? _protobufMessage;

        public CompiledPolicy? CompileRoot(JsonElement root)
        {
            if (!ExpectKind(root, "$", JsonValueKind.Object))
            {
                return null;
            }
            CheckProperties(root, "$", "id", "version", "description", "limits", "streams");
            var id = RequiredString(root, "$", "id");
            if (id is not null && !IsIdentifier(id))
            {
                Error("$.id", "must be letters, digits, '.', '_' or '-'");
            }
            var version = RequiredString(root, "$", "version");
            if (version is not null && !IsIdentifier(version))
            {
                Error("$.version", "must be letters, digits, '.', '_' or '-'");
            }
            var fullVersion = $"{version}+sha256.{contentHash}";
            _policyTag = $"{id}@{fullVersion}";
            if (root.TryGetProperty("description", out var description))
            {
                ExpectKind(description, "$.description", JsonValueKind.String);
            }
            var limits = CompileLimits(root);
            var streams = new List<CompiledStream>();
            if (!root.TryGetProperty("streams", out var streamsElement))
            {
                Error("$.streams", "is required");
            }
            else if (ExpectKind(streamsElement, "$.streams", JsonValueKind.Object))
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                var filters = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var property in streamsElement.EnumerateObject())
                {
                    var path = Child("$.streams", property.Name);
                    if (!names.Add(property.Name))
                    {
                        Error(path, $"duplicate stream '{property.Name}'");
                        continue;
                    }
                    var stream = CompileStream(property.Name, streams.Count, property.Value, path);
                    if (stream is null)
                    {
                        continue;
                    }
                    if (filters.TryGetValue(stream.Filter.Text, out var other))
                    {
                        Error(Child(path, "topic"), $"duplicate stream: the same topic filter as stream '{other}'");
                        continue;
                    }
                    filters.Add(stream.Filter.Text, property.Name);
                    streams.Add(stream);
                }
                if (names.Count == 0)
                {
                    Error("$.streams", "names no stream; a policy that forwards nothing is a mistake");
                }
            }
            return id is null || version is null || limits is null ? null : new CompiledPolicy(id, fullVersion, limits, [.. streams]);
        }

        private PolicyLimits? CompileLimits(JsonElement root)
        {
            if (!root.TryGetProperty("limits", out var element))
            {
                return PolicyLimits.Default;
            }
            if (!ExpectKind(element, "$.limits", JsonValueKind.Object))
            {
                return null;
            }
            CheckProperties(element, "$.limits", "maxPayloadBytes", "maxDepth");
            var size = OptionalInt(element, "$.limits", "maxPayloadBytes", PolicyLimits.Default.MaxPayloadBytes, 64, 64 * 1024 * 1024);
            var depth = OptionalInt(element, "$.limits", "maxDepth", PolicyLimits.Default.MaxDepth, 1, 256);
            return new PolicyLimits(size, depth);
        }

        private CompiledStream? CompileStream(string name, int index, JsonElement element, string path)
        {
            if (!ExpectKind(element, path, JsonValueKind.Object))
            {
                return null;
            }
            CheckProperties(element, path, "topic", "format", "message", "device", "categories", "purposes", "description");
            TopicFilter? filter = null;
            var topicText = RequiredString(element, path, "topic");
            if (topicText is not null)
            {
                filter = TopicFilter.TryParse(topicText, out var filterError);
                if (filter is null)
                {
                    Error(Child(path, "topic"), $"bad topic filter: {filterError}");
                }
            }
            var format = PayloadFormat.Json;
            if (element.TryGetProperty("format", out var formatElement) && ExpectKind(formatElement, Child(path, "format"), JsonValueKind.String)
                && !PayloadFormats.TryParse(formatElement.GetString()!, out format))
            {
                Error(Child(path, "format"), $"unknown payload format '{formatElement.GetString()}'; known: {string.Join(", ", PayloadFormats.Ids)}");
            }
            _protobufMessage = CompileProtobufMessage(element, path, format);
            var deviceCapture = -1;
            if (element.TryGetProperty("device", out var deviceElement) && ExpectKind(deviceElement, Child(path, "device"), JsonValueKind.String) && filter is not null)
            {
                deviceCapture = filter.CaptureIndex(deviceElement.GetString()!);
                if (deviceCapture < 0)
                {
                    Error(Child(path, "device"), $"names capture '{deviceElement.GetString()}', which the topic filter does not have");
                }
            }
            else if (filter is not null)
            {
                deviceCapture = filter.CaptureIndex("sn");
            }
            var categories = CompileCategories(element, path);
            var purposes = new List<StreamPurpose>();
            if (!element.TryGetProperty("purposes", out var purposesElement))
            {
                Error(Child(path, "purposes"), "is required");
            }
            else if (ExpectKind(purposesElement, Child(path, "purposes"), JsonValueKind.Object))
            {
                var seen = new HashSet<Purpose>();
                foreach (var property in purposesElement.EnumerateObject())
                {
                    var purposePath = Child(Child(path, "purposes"), property.Name);
                    if (!PrivacyVocabulary.TryParsePurpose(property.Name, out var purpose))
                    {
                        Error(purposePath, $"unknown purpose '{property.Name}'; known: {string.Join(", ", PrivacyVocabulary.PurposeIds)}");
                        continue;
                    }
                    if (!seen.Add(purpose))
                    {
                        Error(purposePath, $"duplicate purpose '{property.Name}'");
                        continue;
                    }
                    var compiled = CompilePurpose(name, categories, format, purpose, property.Value, purposePath, filter, deviceCapture);
                    if (compiled is not null)
                    {
                        purposes.Add(compiled);
                    }
                }
                if (seen.Count == 0)
                {
                    Error(Child(path, "purposes"), "names no purpose; a stream without purposes forwards nothing, leave it out instead");
                }
            }
            return filter is null ? null : new CompiledStream(name, index, filter, format, categories, deviceCapture, [.. purposes]);
        }

        private DataCategory CompileCategories(JsonElement stream, string path)
        {
            var categoriesPath = Child(path, "categories");
            if (!stream.TryGetProperty("categories", out var element))
            {
                Error(categoriesPath, "is required: every output is tagged with its categories of personal data");
                return DataCategory.None;
            }
            if (!ExpectKind(element, categoriesPath, JsonValueKind.Array))
            {
                return DataCategory.None;
            }
            var categories = DataCategory.None;
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var itemPath = $"{categoriesPath}[{i++}]";
                if (!ExpectKind(item, itemPath, JsonValueKind.String))
                {
                    continue;
                }
                if (!PrivacyVocabulary.TryParseCategory(item.GetString()!, out var category))
                {
                    Error(itemPath, $"unknown category '{item.GetString()}'; known: {string.Join(", ", PrivacyVocabulary.CategoryIds)}");
                }
                else if ((categories & category) != 0)
                {
                    Error(itemPath, $"duplicate category '{item.GetString()}'");
                }
                categories |= category;
            }
            if (i == 0)
            {
                Error(categoriesPath, "is empty: name at least one category");
            }
            return categories;
        }

        private StreamPurpose? CompilePurpose(
            string streamName, DataCategory categories, PayloadFormat format, Purpose purpose, JsonElement element, string path, TopicFilter? filter,
            int deviceCapture)
        {
            if (!ExpectKind(element, path, JsonValueKind.Object))
            {
                return null;
            }
            CheckProperties(element, path, [.. s_commonPurposeProperties, .. FormatPurposeProperties(format)]);
            LegalBasis? basis = null;
            var basisId = RequiredString(element, path, "legalBasis");
            if (basisId is not null)
            {
                if (!PrivacyVocabulary.TryParseLegalBasis(basisId, out var parsed))
                {
                    Error(Child(path, "legalBasis"), $"unknown legal basis '{basisId}'; known: {string.Join(", ", PrivacyVocabulary.LegalBasisIds)}");
                }
                else if (!PrivacyVocabulary.AllowedLegalBases(purpose).Contains(parsed))
                {
                    var allowed = string.Join(", ", PrivacyVocabulary.AllowedLegalBases(purpose).Select(b => b.Id()));
                    Error(Child(path, "legalBasis"), PrivacyVocabulary.AllowedLegalBases(purpose) is [LegalBasis.Consent]
                        ? $"'{purpose.Id()}' is a consent-based purpose in the privacy notice; its legal basis must be 'consent', not '{basisId}'"
                        : $"the privacy notice does not give '{basisId}' as a legal basis for '{purpose.Id()}' (allowed: {allowed})");
                }
                else
                {
                    basis = parsed;
                }
            }
            var retention = RequiredString(element, path, "retention");
            var period = TimeSpan.Zero;
            if (retention is not null && !TryParseRetention(retention, out period))
            {
                Error(Child(path, "retention"), $"'{retention}' is not a positive ISO-8601 duration such as P30D, P2Y or PT12H");
                retention = null;
            }
            var captureRules = CompileCaptures(element, path, filter);
            var topic = CompileOutputTopic(element, path, filter, captureRules);
            var (compiled, fields, formatRules) = CompileFormatRules(format, purpose, element, path);
            if (formatRules is SolixRules { PseudonymizesSerial: true } && filter is not null && deviceCapture >= 0
                && captureRules.TryGetValue(filter.CaptureNames[deviceCapture], out var deviceRule)
                && deviceRule is TransformKind.Keep or TransformKind.Pseudonymize)
            {
                // The serial is inside the message too: the topic must carry the very pseudonym the message carries.
                Error(Child(Child(path, "captures"), filter.CaptureNames[deviceCapture]),
                    "must be 'pseudonymize-same-length' (or 'drop'): this purpose pseudonymizes SOLIX serials, and its topic must carry the same pseudonym");
                compiled = false;
            }
            return basis is null || retention is null || topic is null || !compiled
                ? null
                : new StreamPurpose(streamName, categories, purpose, basis.Value, retention, period, topic, fields, formatRules, _policyTag);
        }

        /// <summary>The purpose properties that say what a purpose keeps, by the stream's payload format.</summary>
        private static string[] FormatPurposeProperties(PayloadFormat format) => PayloadFormats.Of(format).PurposeProperties;

        /// <summary>
        /// Compiles the rules of a purpose for its stream's payload format: the field rules and/or the format's own
        /// rules (<see cref="StreamPurpose.FormatRules"/>). False when they have errors (reported).
        /// </summary>
        private (bool Compiled, FieldSet? Fields, object? FormatRules) CompileFormatRules(PayloadFormat format, Purpose purposeId, JsonElement purpose, string path)
        {
            switch (format)
            {
                case PayloadFormat.Text:
                    var rules = CompileLogScrubRules(purpose, path);
                    return (rules is not null, null, rules);
                case PayloadFormat.Protobuf:
                    var fieldSet = RequiredFieldSet(purpose, path);
                    var plan = fieldSet is null || _protobufMessage is null
                        ? null
                        : ProtobufPlan.Compile(_protobufMessage, fieldSet, Child(path, "fields"), Error);
                    return (plan is not null, fieldSet, plan);
                case PayloadFormat.Solix:
                    if (!purpose.TryGetProperty("solix", out var solixElement))
                    {
                        Error(Child(path, "solix"), "is required: the SOLIX rules of this purpose (serial, head, payload, messages)");
                        return (false, null, null);
                    }
                    var solixRules = SolixRules.Compile(solixElement, Child(path, "solix"), purposeId, Error);
                    return (solixRules is not null, null, solixRules);
                default:
                    var fields = RequiredFieldSet(purpose, path);
                    return (fields is not null, fields, null);
            }
        }

        /// <summary>
        /// The <c>text</c> rules of a log purpose; all optional, with safe defaults (serial pseudonymized, IPv4 /24,
        /// IPv6 /48, one coordinate decimal). Secrets, Wi-Fi names, e-mail addresses, phone numbers and MAC addresses
        /// are always replaced: no rule keeps them.
        /// </summary>
        private LogScrubRules? CompileLogScrubRules(JsonElement purpose, string path)
        {
            if (!purpose.TryGetProperty("text", out var element))
            {
                return LogScrubRules.Default;
            }
            var textPath = Child(path, "text");
            if (!ExpectKind(element, textPath, JsonValueKind.Object))
            {
                return null;
            }
            CheckProperties(element, textPath, "serial", "ipv4PrefixLength", "ipv6PrefixLength", "decimals", "maxLineLength");
            var serial = LogScrubRules.Default.Serial;
            var valid = true;
            if (element.TryGetProperty("serial", out var serialElement) && ExpectKind(serialElement, Child(textPath, "serial"), JsonValueKind.String))
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
                        Error(Child(textPath, "serial"), $"'{serialElement.GetString()}' is not a serial handling; known: keep, pseudonymize, drop");
                        valid = false;
                        break;
                }
            }
            var errorsBefore = errors.Count;
            var rules = new LogScrubRules
            {
                Serial = serial,
                Ipv4PrefixLength = OptionalInt(element, textPath, "ipv4PrefixLength", LogScrubRules.Default.Ipv4PrefixLength, 0, 32),
                Ipv6PrefixLength = OptionalInt(element, textPath, "ipv6PrefixLength", LogScrubRules.Default.Ipv6PrefixLength, 0, 128),
                CoordinateDecimals = OptionalInt(element, textPath, "decimals", LogScrubRules.Default.CoordinateDecimals, 0, 6),
                MaxLineLength = OptionalInt(element, textPath, "maxLineLength", LogScrubRules.Default.MaxLineLength, LogScrubRules.MinLineLength, LogScrubRules.MaxLineLengthLimit),
            };
            return valid && errors.Count == errorsBefore ? rules : null;
        }

        /// <summary>
        /// The descriptor a protobuf stream's <c>message</c> names (required for protobuf, meaningless for other formats).
        /// </summary>
        private MessageDescriptor? CompileProtobufMessage(JsonElement stream, string path, PayloadFormat format)
        {
            var has = stream.TryGetProperty("message", out var element);
            if (format != PayloadFormat.Protobuf)
            {
                if (has)
                {
                    Error(Child(path, "message"), $"applies to format 'protobuf' only; this stream's format is '{format.Id()}'");
                }
                return null;
            }
            var name = RequiredString(stream, path, "message");
            if (name is null)
            {
                return null;
            }
            var descriptor = ProtobufMessages.Find(name);
            if (descriptor is null)
            {
                Error(Child(path, "message"), $"unknown protobuf message '{name}'; known: {string.Join(", ", ProtobufMessages.DeviceMessageNames)}");
            }
            return descriptor;
        }

        private FieldSet? RequiredFieldSet(JsonElement purpose, string path)
        {
            if (!purpose.TryGetProperty("fields", out var fieldsElement))
            {
                Error(Child(path, "fields"), "is required: name every field this purpose keeps (fields not named are dropped)");
                return null;
            }
            return CompileFieldSet(fieldsElement, Child(path, "fields"));
        }

        private Dictionary<string, TransformKind> CompileCaptures(JsonElement purpose, string path, TopicFilter? filter)
        {
            var rules = new Dictionary<string, TransformKind>(StringComparer.Ordinal);
            if (!purpose.TryGetProperty("captures", out var element) || !ExpectKind(element, Child(path, "captures"), JsonValueKind.Object))
            {
                return rules;
            }
            foreach (var property in element.EnumerateObject())
            {
                var capturePath = Child(Child(path, "captures"), property.Name);
                if (filter is not null && filter.CaptureIndex(property.Name) < 0)
                {
                    Error(capturePath, $"the topic filter has no capture '{{{property.Name}}}'");
                    continue;
                }
                if (!ExpectKind(property.Value, capturePath, JsonValueKind.String))
                {
                    continue;
                }
                var id = property.Value.GetString()!;
                if (!TransformIds.TryParse(id, out var kind))
                {
                    Error(capturePath, $"unknown transform '{id}'; known: {string.Join(", ", TransformIds.All)}");
                }
                else if (kind is not (TransformKind.Keep or TransformKind.Pseudonymize or TransformKind.PseudonymizeSameLength or TransformKind.Drop))
                {
                    Error(capturePath, $"'{id}' cannot apply to a topic level; a capture can be 'keep', 'pseudonymize', 'pseudonymize-same-length' or 'drop'");
                }
                else
                {
                    rules[property.Name] = kind;
                }
            }
            return rules;
        }

        private OutputTopic? CompileOutputTopic(JsonElement purpose, string path, TopicFilter? filter, Dictionary<string, TransformKind> captureRules)
        {
            var topicPath = Child(path, "topic");
            var template = RequiredString(purpose, path, "topic");
            if (template is null || filter is null)
            {
                return null;
            }
            var parts = new List<OutputTopic.Part>();
            var ok = true;
            var levels = template.Split('/');
            for (var i = 0; i < levels.Length; i++)
            {
                var level = levels[i];
                if (i > 0)
                {
                    parts.Add(new OutputTopic.Part("/"u8.ToArray(), -1, TransformKind.Keep));
                }
                if (level.Length >= 2 && level[0] == '{' && level[^1] == '}')
                {
                    var name = level[1..^1];
                    var index = filter.CaptureIndex(name);
                    if (index < 0)
                    {
                        Error(topicPath, $"uses capture '{{{name}}}', which the stream's topic filter does not have");
                        ok = false;
                    }
                    else if (!captureRules.TryGetValue(name, out var rule))
                    {
                        Error(topicPath, $"uses capture '{{{name}}}' but $.captures names no rule for it ('keep' or 'pseudonymize')");
                        ok = false;
                    }
                    else if (rule == TransformKind.Drop)
                    {
                        Error(topicPath, $"uses capture '{{{name}}}', which this purpose drops");
                        ok = false;
                    }
                    else
                    {
                        parts.Add(new OutputTopic.Part(null, index, rule));
                    }
                }
                else if (level.AsSpan().IndexOfAny("+#{}\0") >= 0 || (i == 0 && level.StartsWith('$')))
                {
                    Error(topicPath, $"level '{level}' is not a valid output topic level (no wildcards, braces or leading '$')");
                    ok = false;
                }
                else if (level.Length > 0)
                {
                    parts.Add(new OutputTopic.Part(Encoding.UTF8.GetBytes(level), -1, TransformKind.Keep));
                }
            }
            return ok ? new OutputTopic(template, [.. parts]) : null;
        }

        private FieldSet? CompileFieldSet(JsonElement element, string path)
        {
            if (!ExpectKind(element, path, JsonValueKind.Object))
            {
                return null;
            }
            var rules = new List<FieldRule>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var fieldPath = Child(path, property.Name);
                if (!names.Add(property.Name))
                {
                    Error(fieldPath, $"field '{property.Name}' is named twice");
                    continue;
                }
                var rule = CompileFieldRule(property.Name, property.Value, fieldPath);
                if (rule is not null)
                {
                    rules.Add(rule);
                }
            }
            if (names.Count > FieldSet.MaxFields)
            {
                Error(path, $"names {names.Count} fields; at most {FieldSet.MaxFields} per object level");
            }
            return new FieldSet([.. rules]);
        }

        private FieldRule? CompileFieldRule(string name, JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String)
            {
                var id = element.GetString()!;
                if (!TransformIds.TryParse(id, out var shorthand))
                {
                    Error(path, $"unknown transform '{id}'; known: {string.Join(", ", TransformIds.All)}");
                    return null;
                }
                if (shorthand == TransformKind.PseudonymizeSameLength)
                {
                    Error(path, "'pseudonymize-same-length' applies to topic captures only; a field takes 'pseudonymize'");
                    return null;
                }
                return new FieldRule(name, shorthand, TransformParameters.Default, null);
            }
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(path, "must be a transform name or an object with 'transform' (and its parameters) or 'fields'");
                return null;
            }
            CheckProperties(element, path, "transform", "fields", "ipv4Prefix", "ipv6Prefix", "decimals", "length", "description");
            var hasTransform = element.TryGetProperty("transform", out var transformElement);
            var hasFields = element.TryGetProperty("fields", out var fieldsElement);
            if (hasTransform && hasFields)
            {
                Error(path, "has both 'transform' and 'fields'; 'fields' already means: keep this object, filtered field by field");
                return null;
            }
            if (hasFields)
            {
                foreach (var parameter in (ReadOnlySpan<string>)["ipv4Prefix", "ipv6Prefix", "decimals", "length"])
                {
                    if (element.TryGetProperty(parameter, out _))
                    {
                        Error(Child(path, parameter), "applies to a transform, not to an object with 'fields'");
                    }
                }
                var fields = CompileFieldSet(fieldsElement, Child(path, "fields"));
                return fields is null ? null : new FieldRule(name, TransformKind.Keep, TransformParameters.Default, fields);
            }
            if (!hasTransform)
            {
                Error(path, "needs 'transform' or 'fields'");
                return null;
            }
            if (!ExpectKind(transformElement, Child(path, "transform"), JsonValueKind.String))
            {
                return null;
            }
            var transformId = transformElement.GetString()!;
            if (!TransformIds.TryParse(transformId, out var kind))
            {
                Error(Child(path, "transform"), $"unknown transform '{transformId}'; known: {string.Join(", ", TransformIds.All)}");
                return null;
            }
            if (kind == TransformKind.PseudonymizeSameLength)
            {
                Error(Child(path, "transform"), "'pseudonymize-same-length' applies to topic captures only; a field takes 'pseudonymize'");
                return null;
            }
            var defaults = TransformParameters.Default;
            var parameters = defaults with
            {
                Ipv4PrefixLength = Parameter(element, path, "ipv4Prefix", kind, TransformKind.TruncateIp, defaults.Ipv4PrefixLength, 0, 32),
                Ipv6PrefixLength = Parameter(element, path, "ipv6Prefix", kind, TransformKind.TruncateIp, defaults.Ipv6PrefixLength, 0, 128),
                Decimals = Parameter(element, path, "decimals", kind, TransformKind.CoarsenCoordinates, defaults.Decimals, 0, 8),
                GeohashLength = Parameter(element, path, "length", kind, TransformKind.Geohash, defaults.GeohashLength, 1, 12),
            };
            return new FieldRule(name, kind, parameters, null);
        }

        private int Parameter(JsonElement rule, string path, string parameter, TransformKind kind, TransformKind owner, int fallback, int min, int max)
        {
            if (!rule.TryGetProperty(parameter, out _))
            {
                return fallback;
            }
            if (kind != owner)
            {
                Error(Child(path, parameter), $"is a parameter of '{owner.Id()}', not of '{kind.Id()}'");
                return fallback;
            }
            return OptionalInt(rule, path, parameter, fallback, min, max);
        }

        private static bool TryParseRetention(string text, out TimeSpan period)
        {
            period = TimeSpan.Zero;
            if (text.Length < 3 || text[0] != 'P')
            {
                return false;
            }
            try
            {
                // XmlConvert reads the ISO-8601 duration grammar (years as 365 days, months as 30).
                period = XmlConvert.ToTimeSpan(text);
            }
            catch (FormatException)
            {
                return false;
            }
            catch (OverflowException)
            {
                return false;
            }
            return period > TimeSpan.Zero;
        }

        private int OptionalInt(JsonElement parent, string path, string name, int fallback, int min, int max)
        {
            if (!parent.TryGetProperty(name, out var element))
            {
                return fallback;
            }
            var childPath = Child(path, name);
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value))
            {
                Error(childPath, "must be an integer");
                return fallback;
            }
            if (value < min || value > max)
            {
                Error(childPath, string.Create(CultureInfo.InvariantCulture, $"must be between {min} and {max}"));
                return fallback;
            }
            return value;
        }

        private string? RequiredString(JsonElement parent, string path, string name)
        {
            var childPath = Child(path, name);
            if (!parent.TryGetProperty(name, out var element))
            {
                Error(childPath, "is required");
                return null;
            }
            if (!ExpectKind(element, childPath, JsonValueKind.String))
            {
                return null;
            }
            var value = element.GetString()!;
            if (value.Length == 0)
            {
                Error(childPath, "cannot be empty");
                return null;
            }
            return value;
        }

        private void CheckProperties(JsonElement element, string path, params ReadOnlySpan<string> known)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (!known.Contains(property.Name))
                {
                    Error(Child(path, property.Name), $"unknown property '{property.Name}'; expected one of: {string.Join(", ", known.ToArray())}");
                }
            }
        }

        private bool ExpectKind(JsonElement element, string path, JsonValueKind kind)
        {
            if (element.ValueKind == kind)
            {
                return true;
            }
            Error(path, $"must be {Describe(kind)}, not {Describe(element.ValueKind)}");
            return false;
        }

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => "a value",
        };

        private void Error(string path, string message) => errors.Add(new PolicyError(path, message));

        private static string Child(string path, string name) =>
            name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
                ? $"{path}.{name}"
                : $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

        private static bool IsIdentifier(string value) => value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
    }
}
