using System.Text.Json;
using Google.Protobuf.Reflection;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// The rules of a protobuf purpose: its <c>fields</c>, named by proto field name, and the plan they compile to against
/// the stream's <c>message</c> type (what <see cref="ProtobufMinimizer"/> applies).
/// </summary>
internal sealed record ProtobufRules(FieldSet Fields, ProtobufPlan Plan) : IFormatRules
{
    FieldSet? IFormatRules.Fields => Fields;
}

/// <summary>
/// Compiles protobuf streams: the stream names its <c>message</c> (a device-side schema), and each purpose's
/// <c>fields</c> name fields of that message.
/// </summary>
internal sealed class ProtobufRulesCompiler : FormatRulesCompiler
{
    // Null on the registered instance and when the stream's message is missing or unknown (already reported):
    // the purposes' fields are still read so that their own errors are reported too.
    private readonly MessageDescriptor? _message;

    public ProtobufRulesCompiler()
    {
    }

    private ProtobufRulesCompiler(MessageDescriptor? message) => _message = message;

    public override string[] StreamProperties => ["message"];

    public override string[] PurposeProperties => ["fields"];

    public override FormatRulesCompiler ForStream(PolicyReader reader, JsonElement stream, string path)
    {
        var name = reader.RequiredString(stream, path, "message");
        if (name is null)
        {
            return new ProtobufRulesCompiler(null);
        }
        var descriptor = ProtobufMessages.Find(name);
        if (descriptor is null)
        {
            reader.Error(PolicyReader.Child(path, "message"), $"unknown protobuf message '{name}'; known: {string.Join(", ", ProtobufMessages.DeviceMessageNames)}");
        }
        return new ProtobufRulesCompiler(descriptor);
    }

    public override IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path)
    {
        var fields = FieldRulesCompiler.Required(reader, element, path);
        var plan = fields is null || _message is null
            ? null
            : ProtobufPlan.Compile(_message, fields, PolicyReader.Child(path, "fields"), reader.Error);
        return plan is null ? null : new ProtobufRules(fields!, plan);
    }

    public override bool ReadsAggregates => true;

    /// <summary>A field path of the stream's message (<see cref="ProtobufAggregateFields"/>); unchecked when the message is unknown (already reported).</summary>
    public override string? CheckAggregateField(string name, Aggregation.AggregateFieldUse use) =>
        _message is null ? null : ProtobufAggregateFields.Check(_message, name, use);

    public override object? AggregatePlan(string[] metrics, string[] groups) =>
        _message is null ? null : ProtobufAggregateFields.Plan(_message, metrics, groups);
}
