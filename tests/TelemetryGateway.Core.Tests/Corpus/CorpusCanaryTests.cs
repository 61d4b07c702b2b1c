using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Corpus;

/// <summary>The shared corpus through the shipped default policy: the canary and keep rules of every message.</summary>
public sealed class CorpusCanaryTests
{
    public static TheoryData<string, Segmentation> Cases()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var message in Support.Corpus.Messages)
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(message.Id, segmentation);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Corpus_message_obeys_its_canary_and_keep_rules(string id, Segmentation segmentation)
    {
        var message = Support.Corpus.Messages.Single(m => m.Id == id);
        var outputs = Run(message, segmentation, out var result);

        if (message.IsBad)
        {
            Assert.True(result.IsQuarantined, $"{id} must be quarantined");
            Assert.Empty(outputs);
            return;
        }
        Assert.False(result.IsQuarantined, $"{id} was quarantined as {result.QuarantineReason.Id()}");
        foreach (var (canary, index) in message.Canaries.Select((c, i) => (c, i)))
        {
            foreach (var output in outputs)
            {
                var leaked = CanaryScanner.Contains(output.Payload, canary.Value) || CanaryScanner.Contains(output.Topic, canary.Value);
                if (canary.IsNever)
                {
                    Assert.False(leaked, $"{id}: never-canary #{index} reached the {output.Purpose} output");
                }
                else if (!canary.OnlyPurposes.Contains(output.Purpose))
                {
                    Assert.False(leaked, $"{id}: canary #{index} ({canary.Rule}) reached the {output.Purpose} output");
                }
            }
        }
        foreach (var kept in message.Keep)
        {
            Assert.True(
                outputs.Any(o => HasValueAt(o.Payload, kept.Path, kept.Value)),
                $"{id}: the value at {kept.Path} must survive in at least one output");
        }
    }

    [Fact]
    public void Every_json_stream_message_of_the_corpus_produces_tagged_outputs()
    {
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        var checkedOutputs = 0;
        foreach (var message in Support.Corpus.Messages.Where(m => !m.IsBad && m.ContentType == "application/json"))
        {
            var result = minimizer.Minimize(message.Topic, new System.Buffers.ReadOnlySequence<byte>(message.Payload));
            Assert.True(result.IsMatched, $"{message.Id} must match a stream");
            foreach (var output in result.Outputs.Span)
            {
                Assert.NotEqual(DataCategory.None, output.Tags.Categories);
                Assert.StartsWith("solix-default@1+sha256.", output.Tags.PolicyTag, StringComparison.Ordinal);
                Assert.StartsWith("P", output.Tags.Retention, StringComparison.Ordinal);
                Assert.Contains(output.Tags.LegalBasis, PrivacyVocabulary.AllowedLegalBases(output.Tags.Purpose));
                checkedOutputs++;
            }
        }
        Assert.True(checkedOutputs > 50);
    }

    [Fact]
    public void Text_logs_of_the_corpus_go_to_diagnostics_only_as_scrubbed_text()
    {
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        var logs = Support.Corpus.Messages.Where(m => m.ContentType == "text/plain").ToArray();
        Assert.NotEmpty(logs);
        foreach (var message in logs)
        {
            var result = minimizer.Minimize(message.Topic, new System.Buffers.ReadOnlySequence<byte>(message.Payload));
            Assert.Equal("log", result.Stream?.Name);
            Assert.False(result.IsQuarantined, $"{message.Id} was quarantined");
            var output = Assert.Single(result.Outputs.ToArray());
            Assert.Equal(Purpose.Diagnostics, output.Tags.Purpose);
            Assert.Equal(Core.Policy.PayloadFormat.Text, result.Stream!.Format);
            // Levels, timestamps and components stay readable.
            var text = System.Text.Encoding.UTF8.GetString(output.Payload.Span);
            Assert.Contains("2026-11-24T", text, StringComparison.Ordinal);
            Assert.Contains(" wifi: ", text, StringComparison.Ordinal);
        }
    }

    internal sealed record Output(string Purpose, byte[] Topic, byte[] Payload);

    internal static List<Output> Run(CorpusMessage message, Segmentation segmentation, out MinimizationResult result)
    {
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        result = minimizer.Minimize(message.Topic, Segments.Split(message.Payload, segmentation));
        var outputs = new List<Output>();
        foreach (var output in result.Outputs.Span)
        {
            outputs.Add(new Output(output.Tags.Purpose.Id(), output.Topic.ToArray(), output.Payload.ToArray()));
        }
        return outputs;
    }

    private static bool HasValueAt(byte[] payload, string path, JsonElement expected)
    {
        using var document = JsonDocument.Parse(payload);
        var element = document.RootElement;
        foreach (var part in path.TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
            {
                return false;
            }
        }
        return expected.ValueKind == JsonValueKind.Number
            ? element.ValueKind == JsonValueKind.Number && element.GetDecimal() == expected.GetDecimal()
            : JsonElement.DeepEquals(element, expected);
    }
}
