using System.Text.Json;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Json;

/// <summary>The rules of a JSON purpose: its <c>fields</c>, the allowlist <see cref="JsonMinimizer"/> applies.</summary>
internal sealed class JsonRulesCompiler : FormatRulesCompiler
{
    public override string[] PurposeProperties => ["fields"];

    public override IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path) =>
        FieldRulesCompiler.Required(reader, element, path);

    /// <summary>Aggregates read top-level members by name, in the rewrite's own pass (<see cref="JsonMinimizer.ReadAggregateFieldsDuringMinimize"/>).</summary>
    public override bool ReadsAggregates => true;
}
