namespace TelemetryGateway.Core.Images;

/// <summary>
/// Why an image could not be stripped of its metadata. An image with a defect is rejected whole: a file the walker
/// cannot follow could hide metadata where it does not look.
/// </summary>
public enum ImageDefect
{
    None,
    /// <summary>The body does not start with the format's signature (JPEG SOI, PNG signature).</summary>
    WrongSignature,
    /// <summary>The body ends before the image does (no EOI or IEND, or inside a segment or chunk).</summary>
    Truncated,
    /// <summary>A segment or chunk header is invalid (bad marker, length or chunk type).</summary>
    Malformed,
    /// <summary>A PNG chunk's CRC does not match its bytes.</summary>
    BadChecksum,
    /// <summary>A PNG critical chunk this walker does not know, so it cannot tell whether dropping it is safe.</summary>
    UnknownCriticalChunk,
}

/// <summary>Stable ids of image defects, for counters and logs.</summary>
public static class ImageDefectIds
{
    public static string Id(this ImageDefect defect) => defect switch
    {
        ImageDefect.WrongSignature => "wrong-signature",
        ImageDefect.Truncated => "truncated",
        ImageDefect.Malformed => "malformed",
        ImageDefect.BadChecksum => "bad-checksum",
        ImageDefect.UnknownCriticalChunk => "unknown-critical-chunk",
        _ => "none",
    };
}
