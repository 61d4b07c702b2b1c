namespace TelemetryGateway.Core.Text;

/// <summary>
/// How many values of each kind a scrub replaced or transformed, for records of processing.
/// Counts only: the values themselves are never kept.
/// </summary>
public record struct LogScrubCounts
{
    /// <summary>Passphrases, passwords, keys and tokens replaced by <c>[secret]</c>.</summary>
    public int Secrets { get; internal set; }

    /// <summary>Wi-Fi names replaced by <c>[ssid]</c>.</summary>
    public int WifiNames { get; internal set; }

    public int EmailAddresses { get; internal set; }

    public int PhoneNumbers { get; internal set; }

    public int MacAddresses { get; internal set; }

    /// <summary>IPv4 and IPv6 addresses truncated to their prefix.</summary>
    public int IpAddresses { get; internal set; }

    /// <summary>Latitude and longitude numbers coarsened.</summary>
    public int Coordinates { get; internal set; }

    /// <summary>Occurrences of the device's serial pseudonymized or dropped.</summary>
    public int Serials { get; internal set; }

    /// <summary>Bare occurrences of a Wi-Fi name or secret the log had revealed earlier after a marker.</summary>
    public int LearnedValues { get; internal set; }

    /// <summary>Lines longer than the maximum line length, cut at a word boundary.</summary>
    public int TruncatedLines { get; internal set; }

    internal void Add(in LogScrubCounts other)
    {
        Secrets += other.Secrets;
        WifiNames += other.WifiNames;
        EmailAddresses += other.EmailAddresses;
        PhoneNumbers += other.PhoneNumbers;
        MacAddresses += other.MacAddresses;
        IpAddresses += other.IpAddresses;
        Coordinates += other.Coordinates;
        Serials += other.Serials;
        LearnedValues += other.LearnedValues;
        TruncatedLines += other.TruncatedLines;
    }

    public readonly int Total =>
        Secrets + WifiNames + EmailAddresses + PhoneNumbers + MacAddresses + IpAddresses + Coordinates + Serials + TruncatedLines;
}
