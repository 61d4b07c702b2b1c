using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// A validated policy, compiled once into an immutable structure that every thread shares.
/// A reload builds a new instance and swaps the reference; nothing here ever changes.
/// </summary>
public sealed class CompiledPolicy
{
    internal CompiledPolicy(string id, string version, PolicyLimits limits, CompiledStream[] streams)
    {
        Id = id;
        Version = version;
        Tag = $"{id}@{version}";
        Limits = limits;
        _streams = streams;
        MaxCaptures = streams.Length == 0 ? 0 : streams.Max(s => s.Filter.CaptureNames.Count);
        MaxPurposesPerStream = streams.Length == 0 ? 0 : streams.Max(s => s.Purposes.Count);
        foreach (var purpose in streams.SelectMany(s => s.PurposeArray))
        {
            purpose.Index = PurposeCount++;
        }
    }

    public string Id { get; }

    /// <summary>The file's declared version and a content hash of the file, e.g. <c>3+sha256.1a2b3c4d5e6f</c>.</summary>
    public string Version { get; }

    /// <summary><c>id@version</c>, the value of the <c>policy</c> tag.</summary>
    public string Tag { get; }

    public PolicyLimits Limits { get; }
    // Arrays, not interfaces, on the per-message path: foreach over an IReadOnlyList boxes its enumerator.
    private readonly CompiledStream[] _streams;

    public IReadOnlyList<CompiledStream> Streams => _streams;
    internal int MaxCaptures { get; }
    internal int MaxPurposesPerStream { get; }

    /// <summary>Stream purposes in the whole policy; each has its <see cref="StreamPurpose.Index"/> below this.</summary>
    internal int PurposeCount { get; }

    /// <summary>The first stream, in file order, whose filter matches <paramref name="topic"/>; null when none does.</summary>
    public CompiledStream? Match(ReadOnlySpan<char> topic, Span<Range> captures)
    {
        foreach (var stream in _streams)
        {
            if (stream.Filter.TryMatch(topic, captures))
            {
                return stream;
            }
        }
        return null;
    }
}

/// <summary>Limits on incoming payloads; exceeding one quarantines the message.</summary>
public sealed record PolicyLimits(int MaxPayloadBytes, int MaxDepth)
{
    public static PolicyLimits Default { get; } = new(256 * 1024, 32);
}

/// <summary>A named stream: which topics it covers, what categories of data it carries, and its purposes.</summary>
public sealed class CompiledStream
{
    internal CompiledStream(string name, int index, TopicFilter filter, PayloadFormat format, DataCategory categories, int deviceCapture, StreamPurpose[] purposes)
    {
        Name = name;
        Index = index;
        Filter = filter;
        Format = format;
        Categories = categories;
        DeviceCapture = deviceCapture;
        PurposeArray = purposes;
    }

    public string Name { get; }
    internal int Index { get; }
    public TopicFilter Filter { get; }
    public PayloadFormat Format { get; }
    public DataCategory Categories { get; }

    /// <summary>Index of the capture that identifies the device (for consent look-ups), or -1.</summary>
    public int DeviceCapture { get; }

    public IReadOnlyList<StreamPurpose> Purposes => PurposeArray;

    internal StreamPurpose[] PurposeArray { get; }

    /// <summary>The payload fields this stream's aggregate entries read, each once (null when it has none).</summary>
    internal Aggregation.AggregateFieldSet? AggregateFields { get; init; }
}

/// <summary>
/// One purpose entry of one stream: its name (the key in the stream's <c>purposes</c>), its tags (the notice's purpose,
/// legal basis, categories, policy, retention), where its output goes and which fields it keeps, and how. Two entries of
/// one stream may name the same purpose of the notice (with different legal bases, say); the entry name tells them apart
/// wherever identity matters (records of processing, counters across reloads, HTTP routes), the purpose id is what the
/// gates decide on and what the outputs are tagged with.
/// </summary>
public sealed class StreamPurpose
{
    internal StreamPurpose(
        string streamName, string name, DataCategory categories, Purpose purpose, LegalBasis legalBasis, string retention,
        TimeSpan retentionPeriod, OutputTopic topic, IFormatRules rules, string policyTag)
    {
        StreamName = streamName;
        Name = name;
        Categories = categories;
        Purpose = purpose;
        LegalBasis = legalBasis;
        Retention = retention;
        RetentionPeriod = retentionPeriod;
        Topic = topic;
        Rules = rules;
        PolicyTag = policyTag;
        Counters = new ProcessingCounters();
        if (rules is Aggregation.AggregateRules aggregate)
        {
            Aggregator = new Aggregation.WindowAggregator(this, aggregate);
        }
        OutputTags = new Pipeline.OutputTags(this);
        ConsentedLearnedClasses = Learning.ConsentedContact.ClassesKeptBy(legalBasis, rules.Fields);
    }

    /// <summary>
    /// The contact classes of learned values this entry's output keeps (it is on consent and its rules keep them by
    /// name; see <see cref="Learning.ConsentedContact"/>): a bit per <see cref="Learning.LearnedClass"/>, 0 for most entries.
    /// </summary>
    internal int ConsentedLearnedClasses { get; }

    /// <summary>The entry's <c>aggregate</c>, when it releases anonymous aggregates instead of per-message outputs; else null.</summary>
    public Aggregation.AggregateRules? Aggregate => Rules as Aggregation.AggregateRules;

    /// <summary>The windows of an aggregate entry (null for the others): what its messages are folded into.</summary>
    public Aggregation.WindowAggregator? Aggregator { get; private set; }

    /// <summary>
    /// Takes over <paramref name="previous"/>'s open windows when its aggregate is the same (window, groups, k, metrics,
    /// noise, topic), so a reload does not cut a window short; only before this entry's policy is published.
    /// </summary>
    internal void CarryAggregatorFrom(StreamPurpose previous)
    {
        if (Aggregate is not null && previous.Aggregator is not null && previous.AggregateSpec == AggregateSpec)
        {
            Aggregator = previous.Aggregator;
        }
    }

    /// <summary>The aggregate as the policy writes it (with the topic), to tell an unchanged one across a reload.</summary>
    internal string? AggregateSpec { get; init; }

    public string StreamName { get; }

    /// <summary>The entry's name, its key in the stream's <c>purposes</c>; the purpose id when the entry names no other.</summary>
    public string Name { get; }

    /// <summary>The notice's purpose this entry processes for (the entry's <c>purpose</c>, by default its name).</summary>
    public Purpose Purpose { get; }
    public LegalBasis LegalBasis { get; }
    public DataCategory Categories { get; }

    /// <summary>The retention as written in the policy (ISO-8601 duration, e.g. <c>P2Y</c>).</summary>
    public string Retention { get; }
    public TimeSpan RetentionPeriod { get; }
    public OutputTopic Topic { get; }

    /// <summary>The fields this purpose keeps, and how, for formats whose rules name fields (JSON); null otherwise.</summary>
    public FieldSet? Fields => Rules.Fields;

    /// <summary>
    /// This purpose's compiled rules for its stream's <see cref="PayloadFormat"/>, of the type that format's rules
    /// compiler produces (<see cref="PayloadFormats"/>).
    /// </summary>
    internal IFormatRules Rules { get; }

    /// <summary>The log scrub rules of a purpose of a <see cref="PayloadFormat.Text"/> stream; null for other formats.</summary>
    public Text.LogScrubRules? TextRules => Rules as Text.LogScrubRules;

    /// <summary>
    /// This purpose's rules as the type its format's minimizer expects; a mismatch is a registration bug, not bad input.
    /// </summary>
    internal TRules RulesOf<TRules>()
        where TRules : class, IFormatRules =>
        Rules as TRules ?? throw new InvalidOperationException($"stream '{StreamName}' has {Rules.GetType().Name} rules, not {typeof(TRules).Name}");

    public string PolicyTag { get; }

    /// <summary>The regions this purpose's outputs may go to, and the safeguard of a transfer (notice §7).</summary>
    public Residency Residency { get; internal init; } = Residency.OriginOnly;

    /// <summary>The tags of this purpose's outputs, compiled once (text and UTF-8).</summary>
    public Pipeline.OutputTags OutputTags { get; }

    /// <summary>
    /// Records of processing for this stream and purpose entry: counts, never values. A reloaded policy takes over the
    /// counters of the entries that still exist (same stream and entry name, <see cref="PolicyGenerations"/>), so counts carry over.
    /// </summary>
    public ProcessingCounters Counters { get; private set; }

    /// <summary>Takes over <paramref name="previous"/>'s counters; only before this purpose's policy is published.</summary>
    internal void CarryCountersFrom(StreamPurpose previous) => Counters = previous.Counters;

    /// <summary>Position among all stream purposes of its policy, for per-minimizer tables.</summary>
    internal int Index { get; set; }
}
