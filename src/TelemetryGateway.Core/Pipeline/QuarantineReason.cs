namespace TelemetryGateway.Core.Pipeline;

/// <summary>
/// Why a message was quarantined. Nothing of a quarantined message is forwarded; the quarantine record keeps
/// the reason, the stream, the size and a keyed digest, never the payload.
/// </summary>
public enum QuarantineReason
{
    None,
    /// <summary>The payload is larger than the policy's limit.</summary>
    TooLarge,
    /// <summary>The payload is not well-formed JSON (including truncated input and trailing content).</summary>
    MalformedJson,
    /// <summary>A string or property name is not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>Objects nest deeper than the policy's limit.</summary>
    DepthExceeded,
    /// <summary>A key the policy names appears twice in one object, so which value a rule applies to is ambiguous.</summary>
    DuplicateKey,
    /// <summary>The payload's top-level value is not a JSON object.</summary>
    NotAnObject,
    /// <summary>The payload is empty.</summary>
    Empty,
    /// <summary>The engine failed on this payload (a defect, not the sender's); nothing of it was forwarded.</summary>
    ProcessingFault,
    /// <summary>The payload is not a well-formed protobuf message (truncated varint or field, a length past its end, an invalid wire type or field number).</summary>
    MalformedProtobuf,
    /// <summary>The protobuf payload uses the deprecated group encoding, which the gateway does not accept.</summary>
    ProtobufGroup,
    /// <summary>A SOLIX binary message does not start with the FF 09 marker.</summary>
    SolixBadMarker,
    /// <summary>A SOLIX binary message is shorter than its header, or its declared length is not its real length.</summary>
    SolixBadLength,
    /// <summary>The XOR checksum of a SOLIX binary message does not match.</summary>
    SolixBadChecksum,
    /// <summary>A field of a SOLIX binary message runs past the end of the message.</summary>
    SolixFieldOverrun,
    /// <summary>A SOLIX envelope lacks its head object, its payload JSON string, or the payload's data.</summary>
    SolixBadEnvelope,
    /// <summary>A value that must be base64 is not.</summary>
    InvalidBase64,
    /// <summary>An image does not start with a JPEG or PNG signature.</summary>
    ImageWrongSignature,
    /// <summary>An image ends before its end marker (JPEG EOI, PNG IEND), or inside a segment or chunk.</summary>
    ImageTruncated,
    /// <summary>An image segment or chunk header is invalid (bad marker, length or chunk type).</summary>
    ImageMalformed,
    /// <summary>A PNG chunk's CRC does not match its bytes.</summary>
    ImageBadChecksum,
    /// <summary>A PNG critical chunk the stripper does not know, so it cannot tell whether dropping it is safe.</summary>
    ImageUnknownCriticalChunk,
}

/// <summary>Stable ids of quarantine reasons, for records, metrics labels and the CLI.</summary>
public static class QuarantineReasonIds
{
    public static string Id(this QuarantineReason reason) => reason switch
    {
        QuarantineReason.TooLarge => "too-large",
        QuarantineReason.MalformedJson => "malformed-json",
        QuarantineReason.InvalidUtf8 => "invalid-utf8",
        QuarantineReason.DepthExceeded => "depth-exceeded",
        QuarantineReason.DuplicateKey => "duplicate-key",
        QuarantineReason.NotAnObject => "not-an-object",
        QuarantineReason.Empty => "empty",
        QuarantineReason.ProcessingFault => "processing-fault",
        QuarantineReason.MalformedProtobuf => "malformed-protobuf",
        QuarantineReason.ProtobufGroup => "protobuf-group",
        QuarantineReason.SolixBadMarker => "solix-bad-marker",
        QuarantineReason.SolixBadLength => "solix-bad-length",
        QuarantineReason.SolixBadChecksum => "solix-bad-checksum",
        QuarantineReason.SolixFieldOverrun => "solix-field-overrun",
        QuarantineReason.SolixBadEnvelope => "solix-bad-envelope",
        QuarantineReason.InvalidBase64 => "invalid-base64",
        QuarantineReason.ImageWrongSignature => "image-wrong-signature",
        QuarantineReason.ImageTruncated => "image-truncated",
        QuarantineReason.ImageMalformed => "image-malformed",
        QuarantineReason.ImageBadChecksum => "image-bad-checksum",
        QuarantineReason.ImageUnknownCriticalChunk => "image-unknown-critical-chunk",
        _ => "none",
    };
}
