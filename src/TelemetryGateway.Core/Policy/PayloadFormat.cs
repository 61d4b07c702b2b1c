using TelemetryGateway.Core.Images;
using TelemetryGateway.Core.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Protobuf;
using TelemetryGateway.Core.Solix;
using TelemetryGateway.Core.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// The payload format of a stream (its policy <c>format</c>), which decides the rewriter its messages go through.
/// </summary>
/// <remarks>
/// Adding a format is a value here and one registration in <see cref="PayloadFormats"/>: its id, content type, the
/// <see cref="FormatRulesCompiler"/> that turns a purpose's properties into its typed rules, and the
/// <see cref="Pipeline.IPayloadMinimizer"/> that applies them. The compiler and the minimizer read nothing else.
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

    /// <summary>
    /// A JPEG or PNG photo (an installation picture), stripped of its metadata (EXIF, XMP, comments, thumbnails) without
    /// being decoded; no per-purpose rules. Streams block by block.
    /// </summary>
    Image,
}

/// <summary>
/// The payload formats, each registered once: its policy-file id, the content type of its outputs, the compiler of its
/// rules, and the rewriter that minimizes it. A new format is an enum value and one entry here.
/// </summary>
public static class PayloadFormats
{
    // In enum order: the registration of a format is at its value.
    private static readonly PayloadFormatRegistration[] s_registrations =
    [
        new(PayloadFormat.Json, "json", "application/json", new JsonRulesCompiler(),
            (pseudonymizer, policy) => new JsonMinimizer(pseudonymizer, policy.MaxPurposesPerStream, policy.Limits.MaxDepth)),
        new(PayloadFormat.Text, "text", "text/plain; charset=utf-8", new LogScrubRulesCompiler(),
            (pseudonymizer, policy) => new TextLogMinimizer(pseudonymizer, policy.MaxPurposesPerStream), Streams: true),
        new(PayloadFormat.Protobuf, "protobuf", "application/x-protobuf", new ProtobufRulesCompiler(),
            (pseudonymizer, policy) => new ProtobufMinimizer(pseudonymizer, policy.MaxPurposesPerStream, policy.Limits.MaxDepth)),
        new(PayloadFormat.Solix, "solix", "application/json", new SolixRulesCompiler(),
            (pseudonymizer, policy) => new SolixEnvelopeRewriter(pseudonymizer, policy.MaxPurposesPerStream)),
        new(PayloadFormat.Image, "image", "application/octet-stream", new ImageRulesCompiler(),
            (_, _) => new ImageMinimizer(), Streams: true),
    ];

    private static readonly string[] s_ids = [.. s_registrations.Select(r => r.Id)];

    public static IReadOnlyList<string> Ids => s_ids;

    public static string Id(this PayloadFormat format) => s_registrations[(int)format].Id;

    /// <summary>The content type of this format's minimized outputs (the same format as its input).</summary>
    public static string ContentType(this PayloadFormat format) => s_registrations[(int)format].ContentType;

    /// <summary>
    /// True when this format's rewriter can minimize a payload block by block as it arrives
    /// (<see cref="Minimizer.MinimizeBody"/> with blocks); the others need the whole payload in one block.
    /// </summary>
    public static bool Streams(this PayloadFormat format) => s_registrations[(int)format].Streams;

    public static bool TryParse(string id, out PayloadFormat format)
    {
        var index = Array.IndexOf(s_ids, id);
        format = index < 0 ? default : (PayloadFormat)index;
        return index >= 0;
    }

    internal static PayloadFormatRegistration Of(PayloadFormat format) => s_registrations[(int)format];

    /// <summary>Every registration, in enum order (the compiler checks each stream against the others' own properties).</summary>
    internal static ReadOnlySpan<PayloadFormatRegistration> All => s_registrations;
}

/// <summary>
/// One payload format's registration (see <see cref="PayloadFormats"/>). A format that <paramref name="Streams"/>
/// has a minimizer that is also an <see cref="IStreamingPayloadMinimizer"/>.
/// </summary>
internal sealed record PayloadFormatRegistration(
    PayloadFormat Format, string Id, string ContentType, FormatRulesCompiler Rules, Func<Pseudonymizer, CompiledPolicy, IPayloadMinimizer> CreateMinimizer,
    bool Streams = false);
