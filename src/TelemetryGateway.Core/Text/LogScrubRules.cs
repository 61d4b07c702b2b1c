using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Text;

/// <summary>What a log line keeps of the device's own serial number.</summary>
public enum SerialHandling
{
    /// <summary>The serial stays in clear (only for purposes that may see it, such as after-sales service).</summary>
    Keep,

    /// <summary>Every occurrence becomes the same keyed pseudonym, so lines of one device can still be joined.</summary>
    Pseudonymize,

    /// <summary>Every occurrence becomes the marker <c>[device]</c>.</summary>
    Drop,
}

/// <summary>
/// How <see cref="LogScrubber"/> treats one log for one purpose: serial handling, how far IP addresses are
/// truncated and coordinates coarsened, and the longest line held in memory. Secrets, Wi-Fi names, e-mail
/// addresses, phone numbers and MAC addresses are always replaced; no rule can keep them.
/// </summary>
public sealed record LogScrubRules : IFormatRules
{
    public const int MinLineLength = 256;
    public const int MaxLineLengthLimit = 16 * 1024 * 1024;
    public const int DefaultMaxLineLength = 64 * 1024;

    /// <summary>Pseudonymized serial, IPv4 /24, IPv6 /48, one coordinate decimal, 64 KiB lines.</summary>
    public static LogScrubRules Default { get; } = new();

    public SerialHandling Serial { get; init; } = SerialHandling.Pseudonymize;

    /// <summary>Leading bits of an IPv4 address kept (the rest zeroed), as the <c>truncate-ip</c> transform does.</summary>
    public int Ipv4PrefixLength { get; init; } = IpTruncation.DefaultIpv4PrefixLength;

    /// <summary>Leading bits of an IPv6 address kept.</summary>
    public int Ipv6PrefixLength { get; init; } = IpTruncation.DefaultIpv6PrefixLength;

    /// <summary>Decimals a coordinate keeps (one decimal is about 11 km), as the <c>coarsen-coordinates</c> transform does.</summary>
    public int CoordinateDecimals { get; init; } = CoordinateCoarsening.DefaultDecimals;

    /// <summary>
    /// Longest line held in memory. A longer line keeps its scrubbed start up to the last word boundary before this
    /// length, then <c>[truncated]</c>; the rest of that line is discarded (see <see cref="LogScrubber"/>).
    /// </summary>
    public int MaxLineLength { get; init; } = DefaultMaxLineLength;

    internal bool IsValid =>
        Enum.IsDefined(Serial)
        && Ipv4PrefixLength is >= 0 and <= 32
        && Ipv6PrefixLength is >= 0 and <= 128
        && CoordinateDecimals is >= 0 and <= 6
        && MaxLineLength is >= MinLineLength and <= MaxLineLengthLimit;

    /// <summary>Every configuration error of these rules at once; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Serial))
        {
            errors.Add($"Serial handling {(int)Serial} is not one of keep, pseudonymize, drop.");
        }

        if (Ipv4PrefixLength is < 0 or > 32)
        {
            errors.Add($"IPv4 prefix length {Ipv4PrefixLength} is outside 0..32.");
        }

        if (Ipv6PrefixLength is < 0 or > 128)
        {
            errors.Add($"IPv6 prefix length {Ipv6PrefixLength} is outside 0..128.");
        }

        if (CoordinateDecimals is < 0 or > 6)
        {
            errors.Add($"Coordinate decimals {CoordinateDecimals} is outside 0..6.");
        }

        if (MaxLineLength is < MinLineLength or > MaxLineLengthLimit)
        {
            errors.Add($"Maximum line length {MaxLineLength} is outside {MinLineLength}..{MaxLineLengthLimit}.");
        }

        return errors;
    }
}
