using System.Text.Json;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Solix;

/// <summary>The rules of a SOLIX purpose: its <c>solix</c> section (<see cref="SolixRules"/>).</summary>
internal sealed class SolixRulesCompiler : FormatRulesCompiler
{
    public override string[] PurposeProperties => ["solix"];

    public override IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path)
    {
        if (!element.TryGetProperty("solix", out var solix))
        {
            reader.Error(PolicyReader.Child(path, "solix"), "is required: the SOLIX rules of this purpose (serial, head, payload, messages)");
            return null;
        }
        return SolixRules.Compile(solix, PolicyReader.Child(path, "solix"), purpose, reader.Error);
    }

    public override bool ReadsAggregates => true;

    /// <summary>A field name of the message map (<see cref="SolixAggregateFields"/>).</summary>
    public override string? CheckAggregateField(string name, Aggregation.AggregateFieldUse use) => SolixAggregateFields.Check(name, use);

    public override object? AggregatePlan(string[] metrics, string[] groups) => SolixAggregateFields.Plan(metrics, groups);
}
