using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Tests.Support;

/// <summary>Runs one message through a fresh <see cref="Minimizer"/> and copies the outputs out of its buffers.</summary>
public static class MinimizerRun
{
    public sealed record Output(string Purpose, string Topic, string Payload)
    {
        public JsonElement Json => JsonDocument.Parse(Payload).RootElement;
    }

    public static (MinimizationResult Result, List<Output> Outputs) Run(CompiledPolicy policy, string topic, string payload, Segmentation segmentation)
        => Run(policy, topic, Encoding.UTF8.GetBytes(payload), segmentation);

    public static (MinimizationResult Result, List<Output> Outputs) Run(CompiledPolicy policy, string topic, byte[] payload, Segmentation segmentation)
    {
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        var result = minimizer.Minimize(topic, Segments.Split(payload, segmentation));
        var outputs = new List<Output>();
        foreach (var output in result.Outputs.Span)
        {
            outputs.Add(new Output(Vocabulary.PrivacyVocabulary.Id(output.Tags.Purpose), Encoding.UTF8.GetString(output.Topic.Span), Encoding.UTF8.GetString(output.Payload.Span)));
        }
        return (result, outputs);
    }

    /// <summary>The single output's payload text, for one-purpose test policies.</summary>
    public static string OnlyOutput(CompiledPolicy policy, string payload, Segmentation segmentation)
    {
        var (result, outputs) = Run(policy, "t/SN1", payload, segmentation);
        Assert.False(result.IsQuarantined, $"quarantined as {result.QuarantineReason.Id()}");
        return Assert.Single(outputs).Payload;
    }

    public static QuarantineReason Quarantine(CompiledPolicy policy, string payload, Segmentation segmentation) =>
        Quarantine(policy, Encoding.UTF8.GetBytes(payload), segmentation);

    public static QuarantineReason Quarantine(CompiledPolicy policy, byte[] payload, Segmentation segmentation)
    {
        var (result, outputs) = Run(policy, "t/SN1", payload, segmentation);
        Assert.Empty(outputs);
        return result.QuarantineReason;
    }
}
