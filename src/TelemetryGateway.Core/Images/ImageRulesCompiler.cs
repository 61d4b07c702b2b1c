using System.Text.Json;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Images;

/// <summary>
/// The rules of an image purpose: there are none to write. What an image may carry is fixed (the pixels and what a
/// decoder needs); its metadata (EXIF with the camera's position and time, XMP, comments, thumbnails) never leaves.
/// </summary>
internal sealed class ImageRulesCompiler : FormatRulesCompiler
{
    public override string[] PurposeProperties => [];

    public override IFormatRules? Compile(PolicyReader reader, Purpose purpose, JsonElement element, string path) => ImageRules.Instance;
}

/// <summary>The (empty) compiled rules of an image purpose: every purpose gets the image stripped of its metadata.</summary>
internal sealed class ImageRules : IFormatRules
{
    public static ImageRules Instance { get; } = new();

    private ImageRules()
    {
    }
}
