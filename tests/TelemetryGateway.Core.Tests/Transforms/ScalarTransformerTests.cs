using System.Text;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Transforms;

/// <summary>The one place of the scalar transforms that the JSON and protobuf rewriters share.</summary>
public sealed class ScalarTransformerTests
{
    private static readonly TransformParameters s_defaults = TransformParameters.Default;

    [Theory]
    [InlineData(TransformKind.TruncateIp, "192.168.17.42", "192.168.17.0")]
    [InlineData(TransformKind.CoarsenCoordinates, "48.13743,11.57549", "48.1,11.6")]
    [InlineData(TransformKind.Geohash, "u281zr1", "u281")]
    public void A_text_value_is_transformed_as_the_policy_guide_says(TransformKind transform, string value, string expected)
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var transformer = new ScalarTransformer(pseudonymizer);

        Assert.True(transformer.TryTransformText(transform, s_defaults, Encoding.UTF8.GetBytes(value), out var result));
        Assert.Equal(expected, Encoding.UTF8.GetString(result));
    }

    [Fact]
    public void A_pseudonym_is_the_same_for_text_and_for_the_literal_of_a_number()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var transformer = new ScalarTransformer(pseudonymizer);

        Assert.True(transformer.TryTransformText(TransformKind.Pseudonymize, s_defaults, "12345"u8, out var text));
        var fromText = text.ToArray();
        Assert.True(transformer.TryTransformNumber(TransformKind.Pseudonymize, s_defaults, "12345"u8, out var number, out var isNumber));

        Assert.Equal(fromText, number.ToArray());
        Assert.False(isNumber);
        Assert.StartsWith(TestPolicies.Key.Id + ".", Encoding.UTF8.GetString(fromText), StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_the_transform_cannot_take_is_refused_not_passed_through()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var transformer = new ScalarTransformer(pseudonymizer);

        Assert.False(transformer.TryTransformText(TransformKind.TruncateIp, s_defaults, "not an address"u8, out _));
        Assert.False(transformer.TryTransformNumber(TransformKind.TruncateIp, s_defaults, "42"u8, out _, out _));
        Assert.True(transformer.TryTransformNumber(TransformKind.CoarsenCoordinates, s_defaults, "48.13743"u8, out var coarse, out var isNumber));
        Assert.Equal(("48.1", true), (Encoding.UTF8.GetString(coarse), isNumber));
    }

    [Theory]
    [InlineData(TransformKind.Pseudonymize, ProcessingAction.Hashed)]
    [InlineData(TransformKind.RedactText, ProcessingAction.Redacted)]
    [InlineData(TransformKind.TruncateIp, ProcessingAction.Coarsened)]
    [InlineData(TransformKind.Geohash, ProcessingAction.Coarsened)]
    public void Each_transform_counts_its_action(TransformKind transform, ProcessingAction action)
    {
        Assert.Equal(action, ScalarTransformer.ActionOf(transform));
    }
}
