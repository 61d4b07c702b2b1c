using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Policy;

/// <summary>Each payload format is registered once: id, content type, rule properties and rewriter.</summary>
public sealed class PayloadFormatsTests
{
    [Fact]
    public void Every_format_has_its_own_registration_at_its_value()
    {
        foreach (var format in Enum.GetValues<PayloadFormat>())
        {
            var registration = PayloadFormats.Of(format);
            Assert.Equal(format, registration.Format);
            Assert.True(PayloadFormats.TryParse(format.Id(), out var parsed));
            Assert.Equal(format, parsed);
            // An image purpose has no rules to write: every purpose gets the photo stripped of its metadata.
            Assert.Equal(format == PayloadFormat.Image, registration.Rules.PurposeProperties.Length == 0);
        }
        Assert.Equal(Enum.GetValues<PayloadFormat>().Length, PayloadFormats.Ids.Distinct().Count());
    }

    [Fact]
    public void Exactly_the_formats_whose_rewriters_stream_are_registered_as_streaming()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        foreach (var format in Enum.GetValues<PayloadFormat>())
        {
            using var rewriter = PayloadFormats.Of(format).CreateMinimizer(pseudonymizer, TestPolicies.Default);
            Assert.Equal(format.Streams(), rewriter is Core.Pipeline.IStreamingPayloadMinimizer);
        }
    }

    [Fact]
    public void An_image_purpose_with_field_rules_is_an_error()
    {
        var compilation = TestPolicies.Compile("""
            {
              "id": "test", "version": "1",
              "streams": {
                "photos": {
                  "topic": "p/{sn}", "format": "image", "categories": ["owner"],
                  "purposes": {
                    "after-sales-service": {
                      "legalBasis": "contract", "retention": "P1Y", "topic": "p/{sn}", "captures": { "sn": "keep" },
                      "fields": { "a": "keep" }
                    }
                  }
                }
              }
            }
            """);

        Assert.False(compilation.Succeeded);
        Assert.Contains(compilation.Errors, e => e.ToString()!.Contains("fields", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_format_s_registration_makes_a_rewriter()
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        foreach (var format in Enum.GetValues<PayloadFormat>())
        {
            using var rewriter = PayloadFormats.Of(format).CreateMinimizer(pseudonymizer, TestPolicies.Default);
            Assert.NotNull(rewriter);
        }
    }
}
