using System.Security.Cryptography;
using System.Text.Json;
using System.Xml;
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

    internal sealed class Compiler(List<PolicyError> errors, string contentHash)
    {
        private static readonly string[] s_commonStreamProperties = ["topic", "format", "device", "categories", "purposes", "description"];
        private static readonly string[] s_commonPurposeProperties = ["purpose", "aggregate", "legalBasis", "retention", "topic", "captures", "residency", "description"];

        private readonly PolicyReader _reader = new(errors);
        private string _policyTag = string.Empty;

        public CompiledPolicy? CompileRoot(JsonElement root)
        {
            if (!_reader.ExpectKind(root, "$", JsonValueKind.Object))
            {
                return null;
            }
            _reader.CheckProperties(root, "$", "id", "version", "description", "limits", "streams");
            var id = _reader.RequiredString(root, "$", "id");
            if (id is not null && !PolicyReader.IsIdentifier(id))
            {
                _reader.Error("$.id", "must be letters, digits, '.', '_' or '-'");
            }
            var version = _reader.RequiredString(root, "$", "version");
            if (version is not null && !PolicyReader.IsIdentifier(version))
            {
                _reader.Error("$.version", "must be letters, digits, '.', '_' or '-'");
            }
            var fullVersion = $"{version}+sha256.{contentHash}";
            _policyTag = $"{id}@{fullVersion}";
            if (root.TryGetProperty("description", out var description))
            {
                _reader.ExpectKind(description, "$.description", JsonValueKind.String);
            }
            var limits = CompileLimits(root);
            var streams = new List<CompiledStream>();
            if (!root.TryGetProperty("streams", out var streamsElement))
            {
                _reader.Error("$.streams", "is required");
            }
            else if (_reader.ExpectKind(streamsElement, "$.streams", JsonValueKind.Object))
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                var filters = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var property in streamsElement.EnumerateObject())
                {
                    var path = PolicyReader.Child("$.streams", property.Name);
                    if (!names.Add(property.Name))
                    {
                        _reader.Error(path, $"duplicate stream '{property.Name}'");
                        continue;
                    }
                    var stream = CompileStream(property.Name, streams.Count, property.Value, path);
                    if (stream is null)
                    {
                        continue;
                    }
                    if (filters.TryGetValue(stream.Filter.Text, out var other))
                    {
                        _reader.Error(PolicyReader.Child(path, "topic"), $"duplicate stream: the same topic filter as stream '{other}'");
                        continue;
                    }
                    filters.Add(stream.Filter.Text, property.Name);
                    streams.Add(stream);
                }
                if (names.Count == 0)
                {
                    _reader.Error("$.streams", "names no stream; a policy that forwards nothing is a mistake");
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
            if (!_reader.ExpectKind(element, "$.limits", JsonValueKind.Object))
            {
                return null;
            }
            _reader.CheckProperties(element, "$.limits", "maxPayloadBytes", "maxDepth");
            var size = _reader.OptionalInt(element, "$.limits", "maxPayloadBytes", PolicyLimits.Default.MaxPayloadBytes, 64, 64 * 1024 * 1024);
            var depth = _reader.OptionalInt(element, "$.limits", "maxDepth", PolicyLimits.Default.MaxDepth, 1, 256);
            return new PolicyLimits(size, depth);
        }

        private CompiledStream? CompileStream(string name, int index, JsonElement element, string path)
        {
            if (!_reader.ExpectKind(element, path, JsonValueKind.Object))
            {
                return null;
            }
            _reader.CheckProperties(element, path, [.. s_commonStreamProperties, .. AllFormatStreamProperties()]);
            TopicFilter? filter = null;
            var topicText = _reader.RequiredString(element, path, "topic");
            if (topicText is not null)
            {
                filter = TopicFilter.TryParse(topicText, out var filterError);
                if (filter is null)
                {
                    _reader.Error(PolicyReader.Child(path, "topic"), $"bad topic filter: {filterError}");
                }
            }
            var format = PayloadFormat.Json;
            if (element.TryGetProperty("format", out var formatElement) && _reader.ExpectKind(formatElement, PolicyReader.Child(path, "format"), JsonValueKind.String)
                && !PayloadFormats.TryParse(formatElement.GetString()!, out format))
            {
                _reader.Error(PolicyReader.Child(path, "format"), $"unknown payload format '{formatElement.GetString()}'; known: {string.Join(", ", PayloadFormats.Ids)}");
            }
            var rules = CompileFormatStreamProperties(element, path, format);
            var deviceCapture = -1;
            if (element.TryGetProperty("device", out var deviceElement) && _reader.ExpectKind(deviceElement, PolicyReader.Child(path, "device"), JsonValueKind.String) && filter is not null)
            {
                deviceCapture = filter.CaptureIndex(deviceElement.GetString()!);
                if (deviceCapture < 0)
                {
                    _reader.Error(PolicyReader.Child(path, "device"), $"names capture '{deviceElement.GetString()}', which the topic filter does not have");
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
                _reader.Error(PolicyReader.Child(path, "purposes"), "is required");
            }
            else if (_reader.ExpectKind(purposesElement, PolicyReader.Child(path, "purposes"), JsonValueKind.Object))
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                // Entries that share a purpose id are published under one topic prefix ({prefix}/{purpose}/...), so
                // their output topics must differ.
                var topics = new Dictionary<(Purpose Purpose, string Template), string>();
                foreach (var property in purposesElement.EnumerateObject())
                {
                    var purposePath = PolicyReader.Child(PolicyReader.Child(path, "purposes"), property.Name);
                    if (!seen.Add(property.Name))
                    {
                        _reader.Error(purposePath, $"duplicate purpose entry '{property.Name}'");
                        continue;
                    }
                    if (property.Name.Length == 0 || !PolicyReader.IsIdentifier(property.Name))
                    {
                        _reader.Error(purposePath, "a purpose entry's name must be non-empty letters, digits, '.', '_' or '-'");
                        continue;
                    }
                    if (!TryEntryPurpose(property.Name, property.Value, purposePath, out var purpose))
                    {
                        continue;
                    }
                    var compiled = CompilePurpose(name, property.Name, categories, format, rules, purpose, property.Value, purposePath, filter, deviceCapture);
                    if (compiled is null)
                    {
                        continue;
                    }
                    if (topics.TryGetValue((purpose, compiled.Topic.Template), out var other))
                    {
                        _reader.Error(PolicyReader.Child(purposePath, "topic"),
                            $"entry '{other}' of this stream has the same purpose '{purpose.Id()}' and the same output topic; their outputs would collide");
                        continue;
                    }
                    topics.Add((purpose, compiled.Topic.Template), property.Name);
                    purposes.Add(compiled);
                }
                if (seen.Count == 0)
                {
                    _reader.Error(PolicyReader.Child(path, "purposes"), "names no purpose; a stream without purposes forwards nothing, leave it out instead");
                }
            }
            return filter is null
                ? null
                : new CompiledStream(name, index, filter, format, categories, deviceCapture, [.. purposes]) { AggregateFields = AggregateFieldsOf(purposes, rules) };
        }

        /// <summary>
        /// The union of the fields a stream's aggregate entries read, each once, and every entry bound to it: one scan of
        /// a message then serves them all.
        /// </summary>
        private static Aggregation.AggregateFieldSet? AggregateFieldsOf(List<StreamPurpose> purposes, FormatRulesCompiler rules)
        {
            var aggregates = purposes.Select(p => p.Aggregate).OfType<Aggregation.AggregateRules>().ToList();
            if (aggregates.Count == 0)
            {
                return null;
            }
            string[] metrics = [.. aggregates.SelectMany(a => a.Metrics.Select(m => m.Field)).Distinct(StringComparer.Ordinal)];
            string[] groups = [.. aggregates.SelectMany(a => a.GroupBy.Where((_, i) => a.GroupCaptures[i] < 0)).Distinct(StringComparer.Ordinal)];
            var fields = new Aggregation.AggregateFieldSet(metrics, groups, rules.AggregatePlan(metrics, groups));
            foreach (var aggregate in aggregates)
            {
                aggregate.Bind(fields);
            }
            return fields;
        }

        private DataCategory CompileCategories(JsonElement stream, string path)
        {
            var categoriesPath = PolicyReader.Child(path, "categories");
            if (!stream.TryGetProperty("categories", out var element))
            {
                _reader.Error(categoriesPath, "is required: every output is tagged with its categories of personal data");
                return DataCategory.None;
            }
            if (!_reader.ExpectKind(element, categoriesPath, JsonValueKind.Array))
            {
                return DataCategory.None;
            }
            var categories = DataCategory.None;
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var itemPath = $"{categoriesPath}[{i++}]";
                if (!_reader.ExpectKind(item, itemPath, JsonValueKind.String))
                {
                    continue;
                }
                if (!PrivacyVocabulary.TryParseCategory(item.GetString()!, out var category))
                {
                    _reader.Error(itemPath, $"unknown category '{item.GetString()}'; known: {string.Join(", ", PrivacyVocabulary.CategoryIds)}");
                }
                else if ((categories & category) != 0)
                {
                    _reader.Error(itemPath, $"duplicate category '{item.GetString()}'");
                }
                categories |= category;
            }
            if (i == 0)
            {
                _reader.Error(categoriesPath, "is empty: name at least one category");
            }
            return categories;
        }

        /// <summary>
        /// The notice's purpose of a purpose entry: its <c>purpose</c> property, or its name when it has none (so a
        /// stream keyed by purpose ids reads as before).
        /// </summary>
        private bool TryEntryPurpose(string entryName, JsonElement element, string path, out Purpose purpose)
        {
            purpose = default;
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("purpose", out var purposeElement))
            {
                var purposePath = PolicyReader.Child(path, "purpose");
                if (!_reader.ExpectKind(purposeElement, purposePath, JsonValueKind.String))
                {
                    return false;
                }
                if (!PrivacyVocabulary.TryParsePurpose(purposeElement.GetString()!, out purpose))
                {
                    _reader.Error(purposePath, $"unknown purpose '{purposeElement.GetString()}'; known: {string.Join(", ", PrivacyVocabulary.PurposeIds)}");
                    return false;
                }
                return true;
            }
            if (!PrivacyVocabulary.TryParsePurpose(entryName, out purpose))
            {
                _reader.Error(path, $"unknown purpose '{entryName}'; known: {string.Join(", ", PrivacyVocabulary.PurposeIds)} (an entry of another name says which with \"purpose\")");
                return false;
            }
            return true;
        }

        private StreamPurpose? CompilePurpose(
            string streamName, string entryName, DataCategory categories, PayloadFormat format, FormatRulesCompiler rules, Purpose purpose, JsonElement element, string path,
            TopicFilter? filter, int deviceCapture)
        {
            if (!_reader.ExpectKind(element, path, JsonValueKind.Object))
            {
                return null;
            }
            _reader.CheckProperties(element, path, [.. s_commonPurposeProperties, .. rules.PurposeProperties]);
            LegalBasis? basis = null;
            var basisId = _reader.RequiredString(element, path, "legalBasis");
            if (basisId is not null)
            {
                if (!PrivacyVocabulary.TryParseLegalBasis(basisId, out var parsed))
                {
                    _reader.Error(PolicyReader.Child(path, "legalBasis"), $"unknown legal basis '{basisId}'; known: {string.Join(", ", PrivacyVocabulary.LegalBasisIds)}");
                }
                else if (!PrivacyVocabulary.AllowedLegalBases(purpose).Contains(parsed))
                {
                    var allowed = string.Join(", ", PrivacyVocabulary.AllowedLegalBases(purpose).Select(b => b.Id()));
                    _reader.Error(PolicyReader.Child(path, "legalBasis"), PrivacyVocabulary.AllowedLegalBases(purpose) is [LegalBasis.Consent]
                        ? $"'{purpose.Id()}' is a consent-based purpose in the privacy notice; its legal basis must be 'consent', not '{basisId}'"
                        : $"the privacy notice does not give '{basisId}' as a legal basis for '{purpose.Id()}' (allowed: {allowed})");
                }
                else
                {
                    basis = parsed;
                }
            }
            var retention = _reader.RequiredString(element, path, "retention");
            var period = TimeSpan.Zero;
            if (retention is not null && !TryParseRetention(retention, out period))
            {
                _reader.Error(PolicyReader.Child(path, "retention"), $"'{retention}' is not a positive ISO-8601 duration such as P30D, P2Y or PT12H");
                retention = null;
            }
            var residency = CompileResidency(element, path, out var residencyValid);
            var captureRules = TopicRulesCompiler.CompileCaptures(_reader, element, path, filter);
            var topic = TopicRulesCompiler.CompileOutputTopic(_reader, element, path, filter, captureRules);
            IFormatRules? formatRules;
            string? aggregateSpec = null;
            if (element.TryGetProperty("aggregate", out var aggregateElement))
            {
                // An aggregate entry releases anonymous aggregates: no per-message rules, no personal category.
                foreach (var property in rules.PurposeProperties)
                {
                    if (element.TryGetProperty(property, out _))
                    {
                        _reader.Error(PolicyReader.Child(path, property), "an aggregate entry sends no per-message output; name its fields under \"aggregate\".metrics");
                    }
                }
                var aggregate = Aggregation.AggregateRulesCompiler.Compile(_reader, aggregateElement, PolicyReader.Child(path, "aggregate"), format, rules, filter, deviceCapture);
                if (aggregate is not null && topic is not null && filter is not null)
                {
                    foreach (var capture in captureRules)
                    {
                        if (topic.Template.Contains($"{{{capture.Key}}}", StringComparison.Ordinal)
                            && (capture.Value != TransformKind.Keep || !aggregate.GroupBy.Contains(capture.Key)))
                        {
                            _reader.Error(PolicyReader.Child(path, "topic"), $"uses capture '{{{capture.Key}}}': an aggregate's topic may use only the captures it groups by, kept");
                            aggregate = null;
                            break;
                        }
                    }
                }
                formatRules = aggregate;
                aggregateSpec = aggregateElement.GetRawText() + "\n" + topic?.Template;
                categories = DataCategory.None;
            }
            else
            {
                formatRules = rules.Compile(_reader, purpose, element, path);
            }
            var compiled = formatRules is not null;
            if (formatRules is { PseudonymizesDeviceInPayload: true } && filter is not null && deviceCapture >= 0
                && captureRules.TryGetValue(filter.CaptureNames[deviceCapture], out var deviceRule)
                && deviceRule is TransformKind.Keep or TransformKind.Pseudonymize)
            {
                // The serial is inside the message too: the topic must carry the very pseudonym the message carries.
                _reader.Error(PolicyReader.Child(PolicyReader.Child(path, "captures"), filter.CaptureNames[deviceCapture]),
                    "must be 'pseudonymize-same-length' (or 'drop'): this purpose pseudonymizes the serial in its payload, and its topic must carry the same pseudonym");
                compiled = false;
            }
            return basis is null || retention is null || topic is null || !compiled || !residencyValid
                ? null
                : new StreamPurpose(streamName, entryName, categories, purpose, basis.Value, retention, period, topic, formatRules!, _policyTag) { AggregateSpec = aggregateSpec, Residency = residency };
        }

        /// <summary>
        /// <c>"residency": {"regions": ["eea", "us"], "safeguard": "scc"}</c>: the regions this purpose's outputs may go
        /// to, and the safeguard of a transfer out of the origin region (notice §7.2). Absent: the origin region only.
        /// </summary>
        private Residency CompileResidency(JsonElement purpose, string purposePath, out bool valid)
        {
            valid = true;
            if (!purpose.TryGetProperty("residency", out var element))
            {
                return Residency.OriginOnly;
            }
            var path = PolicyReader.Child(purposePath, "residency");
            var errorsBefore = _reader.ErrorCount;
            if (!_reader.ExpectKind(element, path, JsonValueKind.Object))
            {
                valid = false;
                return Residency.OriginOnly;
            }
            _reader.CheckProperties(element, path, "regions", "safeguard", "description");
            var regions = new List<string>();
            var regionsPath = PolicyReader.Child(path, "regions");
            if (!element.TryGetProperty("regions", out var regionsElement))
            {
                _reader.Error(regionsPath, "is required: the regions this purpose's outputs may go to");
            }
            else if (_reader.ExpectKind(regionsElement, regionsPath, JsonValueKind.Array))
            {
                var i = 0;
                foreach (var item in regionsElement.EnumerateArray())
                {
                    var itemPath = $"{regionsPath}[{i++}]";
                    if (!_reader.ExpectKind(item, itemPath, JsonValueKind.String))
                    {
                        continue;
                    }
                    var region = item.GetString()!;
                    if (!Residency.IsRegionId(region))
                    {
                        _reader.Error(itemPath, $"'{region}' is not a region id (lower-case letters, digits and '-', 2 to 32 characters; the notice's: {string.Join(", ", Residency.KnownRegions)})");
                    }
                    else if (regions.Contains(region))
                    {
                        _reader.Error(itemPath, $"duplicate region '{region}'");
                    }
                    else
                    {
                        regions.Add(region);
                    }
                }
                if (i == 0)
                {
                    _reader.Error(regionsPath, "is empty: name at least one region (leave residency out to keep the outputs in their origin region)");
                }
            }
            string? safeguard = null;
            if (element.TryGetProperty("safeguard", out var safeguardElement))
            {
                var safeguardPath = PolicyReader.Child(path, "safeguard");
                if (_reader.ExpectKind(safeguardElement, safeguardPath, JsonValueKind.String))
                {
                    safeguard = safeguardElement.GetString();
                    if (!Residency.Safeguards.Contains(safeguard))
                    {
                        _reader.Error(safeguardPath, $"unknown safeguard '{safeguard}'; known: {string.Join(", ", Residency.Safeguards)}");
                    }
                    else if (safeguard == Residency.Adequacy)
                    {
                        foreach (var region in regions.Where(Residency.WithoutAdequacyDecision.Contains))
                        {
                            _reader.Error(safeguardPath, $"'adequacy' cannot cover a transfer to '{region}': the privacy notice (§7.2) says there is no adequacy decision for it; use 'scc'");
                        }
                    }
                }
            }
            valid = _reader.ErrorCount == errorsBefore;
            return valid ? new Residency(regions, safeguard) : Residency.OriginOnly;
        }

        private static string[] AllFormatStreamProperties()
        {
            var properties = new List<string>();
            foreach (var registration in PayloadFormats.All)
            {
                properties.AddRange(registration.Rules.StreamProperties);
            }
            return [.. properties];
        }

        /// <summary>
        /// Reads the stream properties of its payload format and rejects those of other formats; returns the compiler
        /// of its purposes' rules.
        /// </summary>
        private FormatRulesCompiler CompileFormatStreamProperties(JsonElement stream, string path, PayloadFormat format)
        {
            var own = PayloadFormats.Of(format).Rules;
            foreach (var registration in PayloadFormats.All)
            {
                if (registration.Format == format)
                {
                    continue;
                }
                foreach (var property in registration.Rules.StreamProperties)
                {
                    if (stream.TryGetProperty(property, out _) && !own.StreamProperties.Contains(property))
                    {
                        _reader.Error(PolicyReader.Child(path, property), $"applies to format '{registration.Id}' only; this stream's format is '{format.Id()}'");
                    }
                }
            }
            return own.ForStream(_reader, stream, path);
        }

        internal static bool TryParseRetention(string text, out TimeSpan period)
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
    }
}
