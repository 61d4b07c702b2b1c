namespace TelemetryGateway.Core.Learning;

/// <summary>What a learned value is, and so the marker that replaces it in an output.</summary>
public enum LearnedClass : byte
{
    WifiName,
    WifiSecret,
    Mac,
    Name,
    Email,
    Phone,
    Address,
}

internal static class LearnedClassMarkers
{
    /// <summary>The class marker written in place of a learned value: the same words the log scrubber writes.</summary>
    public static ReadOnlySpan<byte> Of(LearnedClass kind) => kind switch
    {
        LearnedClass.WifiName => "[ssid]"u8,
        LearnedClass.WifiSecret => "[secret]"u8,
        LearnedClass.Mac => "[mac]"u8,
        LearnedClass.Name => "[name]"u8,
        LearnedClass.Email => "[email]"u8,
        LearnedClass.Phone => "[phone]"u8,
        _ => "[address]"u8,
    };
}
