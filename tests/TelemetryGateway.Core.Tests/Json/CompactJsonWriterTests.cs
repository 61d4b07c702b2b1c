using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TelemetryGateway.Core.Json;

namespace TelemetryGateway.Core.Tests.Json;

/// <summary>The minimizer's writer writes what <see cref="Utf8JsonWriter"/> with relaxed escaping writes, byte for byte.</summary>
public sealed class CompactJsonWriterTests
{
    public static TheoryData<string> Texts()
    {
        var data = new TheoryData<string>
        {
            "",
            "plain ascii",
            "quote \" and backslash \\ and slash /",
            "html <script>&amp;'`+",
            "Linköping, Zürich, 東京",
            "emoji 😀 and a flag 🇯🇵",
            "line separator \u2028 paragraph \u2029",
            "undefined \u0378 private use \uE000 replacement \uFFFD non-character \uFFFE",
            "combining e\u0301 and zero width \u200B joiner \u200D",
            "soft hyphen \u00AD and nbsp \u00A0 and C1 \u0085",
            new string('\u0001', 5000),
            new string('é', 3000) + new string('\u001F', 3000),
        };
        for (var c = 0; c < 0x80; c++)
        {
            data.Add($"a{(char)c}b");
        }
        return data;
    }

    [Theory, MemberData(nameof(Texts))]
    public void Writes_strings_and_names_as_the_framework_writer_does(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        using var compact = new CompactJsonWriter(16);
        compact.WriteStartObject();
        compact.WritePropertyName(utf8);
        compact.WriteStringValue(utf8);
        compact.WritePropertyName("list"u8);
        compact.WriteStartArray();
        compact.WriteStringValue(utf8);
        compact.WriteRawValue("1.5e3"u8);
        compact.WriteBooleanValue(true);
        compact.WriteNullValue();
        compact.WriteEndArray();
        compact.WriteEndObject();

        var expected = new ArrayBufferWriter<byte>();
        using (var framework = new Utf8JsonWriter(expected, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            framework.WriteStartObject();
            framework.WritePropertyName(utf8);
            framework.WriteStringValue(utf8);
            framework.WritePropertyName("list"u8);
            framework.WriteStartArray();
            framework.WriteStringValue(utf8);
            framework.WriteRawValue("1.5e3"u8, skipInputValidation: true);
            framework.WriteBooleanValue(true);
            framework.WriteNullValue();
            framework.WriteEndArray();
            framework.WriteEndObject();
        }

        Assert.Equal(Encoding.UTF8.GetString(expected.WrittenSpan), Encoding.UTF8.GetString(compact.WrittenMemory.Span));
    }
}
