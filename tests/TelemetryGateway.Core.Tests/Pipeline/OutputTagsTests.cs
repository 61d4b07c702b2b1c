using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>Tags are compiled once per stream purpose, as text and as the same UTF-8.</summary>
public sealed class OutputTagsTests
{
    [Fact]
    public void A_stream_purpose_s_tags_are_its_vocabulary_ids_policy_and_retention()
    {
        var purpose = TestPolicies.Default.Streams.Single(s => s.Name == "firmware").Purposes.Single(p => p.Purpose == Purpose.SafetyRecall);

        var tags = purpose.OutputTags;

        Assert.Equal(("safety-recall", "legitimate-interest", "device", "P10Y"), (tags.Purpose, tags.LegalBasis, tags.Categories, tags.Retention));
        Assert.Equal(TestPolicies.Default.Streams[0].Purposes[0].PolicyTag, tags.Policy);
        Assert.Equal((uint)purpose.RetentionPeriod.TotalSeconds, tags.ExpirySeconds);
    }

    [Fact]
    public void The_UTF8_tags_are_the_text_tags()
    {
        foreach (var purpose in TestPolicies.Default.Streams.SelectMany(s => s.Purposes))
        {
            var tags = purpose.OutputTags;
            Assert.Equal(tags.Purpose, Encoding.UTF8.GetString(tags.PurposeUtf8.Span));
            Assert.Equal(tags.LegalBasis, Encoding.UTF8.GetString(tags.LegalBasisUtf8.Span));
            Assert.Equal(tags.Categories, Encoding.UTF8.GetString(tags.CategoriesUtf8.Span));
            Assert.Equal(tags.Policy, Encoding.UTF8.GetString(tags.PolicyUtf8.Span));
            Assert.Equal(tags.Retention, Encoding.UTF8.GetString(tags.RetentionUtf8.Span));
            Assert.Equal(string.Join(',', tags.CategoryList), tags.Categories);
        }
    }

    [Fact]
    public void Every_output_carries_the_one_compiled_tags_instance_of_its_purpose()
    {
        using var minimizer = new Core.Pipeline.Minimizer(TestPolicies.Default, TestPolicies.Key);
        var payload = new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}"""));

        var first = minimizer.Minimize("dt/anker_power/A17C0/SERIALCANARY0001/firmware", payload).Outputs.ToArray().Select(o => o.Tags.OutputTags).ToList();
        var second = minimizer.Minimize("dt/anker_power/A17C0/SERIALCANARY0002/firmware", payload).Outputs.ToArray().Select(o => o.Tags.OutputTags).ToList();

        Assert.Equal(3, first.Count);
        Assert.All(first.Zip(second), pair => Assert.Same(pair.First, pair.Second));
    }
}
