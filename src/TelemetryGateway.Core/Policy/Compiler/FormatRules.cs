using System.Text.Json;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// A purpose's compiled rules for its stream's payload format. Each format's <see cref="FormatRulesCompiler"/>
/// produces its own type, and only that format's minimizer reads it (<see cref="StreamPurpose.RulesOf{TRules}"/>).
/// </summary>
internal interface IFormatRules
{
    /// <summary>The field rules, for formats whose rules name fields (JSON, protobuf); null for the others.</summary>
    FieldSet? Fields => null;

    /// <summary>
    /// True when the payload carries the device's serial as a same-length pseudonym, so the topic's device capture
    /// must carry that very pseudonym (or be dropped) rather than keep the serial or use a different pseudonym.
    /// </summary>
    bool PseudonymizesDeviceInPayload => false;
}

/// <summary>
/// Compiles one payload format's part of a policy: the stream properties only that format has, and the purpose
/// properties that hold its rules. Registered with the format (<see cref="PayloadFormats"/>).
/// </summary>
internal abstract class FormatRulesCompiler
{
    /// <summary>Stream properties that belong to this format (e.g. protobuf's <c>message</c>); other formats reject them.</summary>
    public virtual string[] StreamProperties => [];

    /// <summary>The purpose properties that say what a purpose of this format keeps.</summary>
    public abstract string[] PurposeProperties { get; }

    /// <summary>
    /// Reads a stream's own properties of this format (reporting their errors) and returns the compiler of its
    /// purposes' rules; formats without stream properties return themselves.
    /// </summary>
    public virtual FormatRulesCompiler ForStream(PolicyReader reader, JsonElement stream, string path) => this;

    /// <summary>A purpose's rules; null when they have errors (reported through <paramref name="reader"/>).</summary>
    public abstract IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path);

    /// <summary>True when aggregate entries may read this format's messages (its rewriter reads aggregate fields).</summary>
    public virtual bool ReadsAggregates => false;

    /// <summary>
    /// Checks a payload field an aggregate entry names as a metric or a group: null when this format reads it so, else
    /// why not (reported at the field's path). Formats without stream properties of their own check names only.
    /// </summary>
    public virtual string? CheckAggregateField(string name, Aggregation.AggregateFieldUse use) => null;

    /// <summary>What the union of a stream's aggregate fields compiles to for this format's reader (null: read by name).</summary>
    public virtual object? AggregatePlan(string[] metrics, string[] groups) => null;
}
