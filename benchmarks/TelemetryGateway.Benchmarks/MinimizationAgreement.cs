using System.Text.Json.Nodes;
using TelemetryGateway.Benchmarks.Corpus;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// Guards the comparison: before a benchmark is timed, the engine and the JSON node baseline must produce the same
/// purposes for the message, and documents with the same top-level fields holding the same values. A baseline that did less work would
/// make the engine look better than it is.
/// </summary>
public static class MinimizationAgreement
{
    public static void Check(CorpusMessage message, Minimizer engine, JsonNodeMinimizer baseline)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(baseline);
        var result = engine.Minimize(message.Topic, message.PayloadSequence);
        if (!result.IsMatched || result.IsQuarantined || result.Outputs.IsEmpty)
        {
            throw new InvalidOperationException($"{message.Id}: the engine forwarded nothing (quarantine: {result.QuarantineReason}).");
        }
        // Copied out: the engine's outputs are only valid until its next call.
        var engineOutputs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var output in result.Outputs.Span)
        {
            engineOutputs.Add(output.Tags.Purpose.ToString(), output.Payload.ToArray());
        }
        var baselineOutputs = baseline.Minimize(message.Topic, message.Payload);
        var baselinePurposes = baselineOutputs.Select(output => output.Purpose.Purpose.ToString()).Order(StringComparer.Ordinal);
        if (!baselinePurposes.SequenceEqual(engineOutputs.Keys.Order(StringComparer.Ordinal)))
        {
            throw new InvalidOperationException(
                $"{message.Id}: the engine produced purposes [{string.Join(", ", engineOutputs.Keys)}], the JSON node baseline [{string.Join(", ", baselinePurposes)}].");
        }
        foreach (var output in baselineOutputs)
        {
            var purpose = output.Purpose.Purpose.ToString();
            var engineNames = TopLevelNames(engineOutputs[purpose], $"{message.Id}/{purpose} (engine)");
            var baselineNames = TopLevelNames(output.Payload, $"{message.Id}/{purpose} (JSON node baseline)");
            if (!engineNames.SequenceEqual(baselineNames))
            {
                throw new InvalidOperationException(
                    $"{message.Id}/{purpose}: top-level fields differ: engine [{string.Join(", ", engineNames)}], JSON node baseline [{string.Join(", ", baselineNames)}].");
            }
            var differing = DifferingFields(engineOutputs[purpose], output.Payload);
            if (differing.Count > 0)
            {
                // Names only: the project's errors never carry payload values.
                throw new InvalidOperationException($"{message.Id}/{purpose}: the engine and the JSON node baseline disagree on the value of [{string.Join(", ", differing)}].");
            }
        }
    }

    private static List<string> DifferingFields(byte[] engineOutput, byte[] baselineOutput)
    {
        var engine = (JsonObject)JsonNode.Parse(engineOutput)!;
        var baseline = (JsonObject)JsonNode.Parse(baselineOutput)!;
        return [.. engine.Where(property => !JsonNode.DeepEquals(property.Value, baseline[property.Key])).Select(property => property.Key)];
    }

    private static List<string> TopLevelNames(byte[] payload, string what)
    {
        if (JsonNode.Parse(payload) is not JsonObject document)
        {
            throw new InvalidOperationException($"{what}: the output is not a JSON object.");
        }
        return [.. document.Select(property => property.Key)];
    }
}
