namespace TelemetryGateway.Core.Vocabulary;

/// <summary>Categories of personal data, as in section 3 of the privacy notice.</summary>
[Flags]
public enum DataCategory
{
    None = 0,
    /// <summary>3.1 names, phones, emails, passwords, employer company.</summary>
    Account = 1 << 0,
    /// <summary>3.2 usernames, language, profile pictures, device alias names.</summary>
    Settings = 1 << 1,
    /// <summary>3.3 Wi-Fi names, Wi-Fi passwords, BSSID/MAC.</summary>
    Network = 1 << 2,
    /// <summary>3.4 firmware, model, serial number, device location, IP-derived geography.</summary>
    Device = 1 << 3,
    /// <summary>3.5 device and app logs, settings and usage history, device status.</summary>
    Usage = 1 << 4,
    /// <summary>3.6 owners' names, contacts, installation addresses and pictures.</summary>
    Owner = 1 << 5,
}
