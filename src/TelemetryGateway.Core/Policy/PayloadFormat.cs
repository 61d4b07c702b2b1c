namespace TelemetryGateway.Core.Policy;

/// <summary>
/// The payload format of a stream (its policy <c>format</c>), which decides the rewriter its messages go through.
/// </summary>
/// <remarks>
/// Adding a format takes four steps: a value here with its id and content type; in <see cref="PolicyCompiler"/>, the
/// purpose properties of the format and a compile step that turns them into the purpose's format rules; an
/// <see cref="Engine.IPayloadMinimizer"/> that applies them; and its construction in <see cref="Engine.Minimizer"/>.
/// </remarks>
public enum PayloadFormat
{
    /// <summary>A JSON object, rewritten field by field (<c>fields</c> rules).</summary>
    Json,

    /// <summary>UTF-8 log text, scrubbed line by line (<c>text</c> rules: serial handling, IP prefixes, coordinate decimals).</summary>
    Text,

    /// <summary>
    /// A protobuf message of the stream's <c>message</c> type (a device-side schema of proto/telemetry/v1), rewritten on
    /// the wire format by <c>fields</c> rules that name proto fields.
    /// </summary>
    Protobuf,

    /// <summary>
    /// The SOLIX envelope: JSON head, a JSON-string payload, and a base64 TLV binary in its data (<c>solix</c> rules).
    /// </summary>
    Solix,
}

/// <summary>The policy-file ids and output content types of the payload formats.</summary>
public static class PayloadFormats
{
    private static readonly string[] s_ids = ["json", "text", "protobuf", "solix"];

    private static readonly string[] s_contentTypes = ["application/json", "text/plain; charset=utf-8", "application/x-protobuf", "application/json"];

    public static IReadOnlyList<string> Ids => s_ids;

    public static string Id(this PayloadFormat format) => s_ids[(int)format];

    /// <summary>The content type of this format's minimized outputs (the same format as its input).</summary>
    public static string ContentType(this PayloadFormat format) => s_contentTypes[(int)format];

    public static bool TryParse(string id, out PayloadFormat format)
    {
        var index = Array.IndexOf(s_ids, id);
        format = index < 0 ? default : (PayloadFormat)index;
        return index >= 0;
    }
}
