using System.Text;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>How a word between a marker and its value joins them.</summary>
internal enum LinkWord
{
    None,

    // "is", "was", "to", "as", "value": a value follows.
    Terminal,

    // "set", "changed", "has", "been": a value follows only after a terminal word ("set to", "changed to").
    Verb,

    // "now", "currently": changes nothing.
    Neutral,

    // "any" after a WPS PIN: "wps_pin any 12345670".
    Any,
}

/// <summary>The closed word lists of <see cref="MarkerGrammar"/>, matched whole and ignoring ASCII case.</summary>
internal static class MarkerGrammarWords
{
    private const int MaxWordLength = 16;

    // Words of log prose that follow a marker without being its value: "password authentication failed", "token
    // expired", "SSID not found", "psk length 8", "pre-shared key may be incorrect".
    private static readonly WordSet ProseWords = new(
        "a an the this that it its is was are were be been being am to for of in on at by with from as into via and or but nor not no none "
        + "null nil empty unset set hidden masked redacted omitted ok okay yes true false incorrect invalid wrong bad failed fails failure "
        + "fail error errors mismatch mismatched expired expires expiring required missing accepted rejected changed change changes "
        + "changing updated update updating saved save stored store cleared clear reset length len too short long weak strong "
        + "protected protection authentication authenticated auth handshake exchange timeout timed verification verified verify check "
        + "checked checking may might must should shall will would can could cannot has have had does did do done policy prompt prompted "
        + "request requested needed needs need provided provide manager entry field file mode type strength hint retry retries attempt "
        + "attempts complete completed success successful successfully valid unknown disabled enabled enable disable rotation rotated "
        + "refresh refreshed renewal renewed received sent based generation generated derivation derived agent storage secured found "
        + "cache cached used using unchanged correct matches match matched ignored applied loaded load removed added deleted "
        + "unreachable reachable up down connected disconnected connecting disconnecting scan scanning scanned list lost available "
        + "unavailable selected configured id index block count info information details status state new old current previous "
        + "default problem issue issues supplied entered given specified file via please see also again now then after before when "
        + "while if here there successfully immediately configuration config settings setting pair hash hashed dialog input login "
        + "complexity requirements rules expiry vault salt ccmp tkip sae owe wep wpa wpa2 wpa3 psk open off on "
        + "interface interfaces stack adapter card link traffic selection monitor monitoring quality score scores type types "
        + "automatically manually only");

    private static readonly WordSet Terminals = new("is was to as value are equals becomes set called named");
    private static readonly WordSet Verbs = new("changed updated reset configured been has have will be being got changes sets");
    private static readonly WordSet Neutrals = new("now currently still also new");

    private static readonly WordSet ConnectVerbs = new(
        "connect connected connecting connects reconnect reconnected reconnecting associate associated associating "
        + "reassociate reassociated reassociating join joined joining joins roam roamed roaming switched switching attached attaching "
        + "disconnect disconnected disconnecting deauthenticated disassociated");

    // "connecting" only on a line about Wi-Fi ("WIFI : Connecting Home Net attempt #0").
    private static readonly WordSet BareConnectVerbs = new("connect join joined reconnect connecting");

    private static readonly WordSet NetworkNouns = new(
        "network wireless wifi wi-fi wlan ssid essid ap access point hotspot the a an bss");

    private static readonly WordSet WifiWords = new("wifi wi-fi wlan wireless hotspot ap sta softap");

    private static readonly WordSet Prepositions = new("on at in with via using");

    private static readonly WordSet ProfileWords = new("network con connection profile");

    // nmcli's "connection up|down|modify|show|delete <name>".
    private static readonly WordSet ProfileVerbs = new("up down modify mod show delete del edit clone");

    // What a device connects to besides Wi-Fi networks: "connected to broker", "connecting to MQTT server".
    private static readonly WordSet InfrastructureWords = new(
        "broker server cloud host mqtt mqtts http https api endpoint backend service database db redis amqp peer peers "
        + "gateway internet router proxy socket port device devices client clients upstream remote localhost console "
        + "group multicast link backup session cluster room queue topic thread pool mode state standby fallback primary "
        + "secondary tls ssl vpn tunnel ethernet eth0 lan wan cellular lte modem bluetooth ble");

    // "WPA-PSK", "FT-PSK", "WPA2PSK": authentication methods.
    private static readonly WordSet AuthMethodPrefixes = new("wpa wpa2 wpa3 ft sae owe wpa2wpa3 ieee8021x");

    // "scan_ssid", "ignore_broadcast_ssid", "hidden_ssid": flags.
    private static readonly WordSet SsidFlagPrefixes = new("scan ignore broadcast hidden hide max");

    // "key:off", "psk=none": states, not values.
    private static readonly WordSet SwitchWords = new("on off none null nil disabled enabled true false yes no hidden unset present absent");

    private static readonly WordSet KeyQualifiers = new(
        "wifi wi-fi wlan wireless psk wpa wpa2 wpa3 wep sae sta ap network net security sec api auth access private secret "
        + "shared pre-shared preshared encryption");

    // Words after a Wi-Fi name that start the next part of the line: "SSID Home Net channel 6".
    private static readonly WordSet RadioWords = new(
        "bssid channel chan freq frequency rssi signal band security auth mode aid dbm mhz ghz bw20 bw40 bw80 on_channel attempt");

    // The letters network interfaces are named with before their number: "wlan0", "wlp2s0", "en0", "sta0", "wl0.1".
    private static readonly WordSet InterfacePrefixes = new("wlan wlp wl eth enp ens en sta ap uap mlan ra ath wifi phy br wlo");

    // Substrings that make a line speak of Wi-Fi (the line is lowercased first).
    private static readonly byte[][] WifiMentions =
    [
        "wifi"u8.ToArray(), "wi-fi"u8.ToArray(), "wlan"u8.ToArray(), "wireless"u8.ToArray(), "ssid"u8.ToArray(),
        "supplicant"u8.ToArray(), "802.11"u8.ToArray(), "hostapd"u8.ToArray(), "iwd"u8.ToArray(), "access point"u8.ToArray(),
        "hotspot"u8.ToArray(), "wpa"u8.ToArray(), "station"u8.ToArray(), " sta "u8.ToArray(), " ap "u8.ToArray(), "nmcli"u8.ToArray(),
    ];

    // The markers and bare connect verbs after which a blank may lead to a value (the exact test after MarkerGrammar's
    // length and first-letter filter, which is built from the same words); "wpa" is "wpa2" with its digit stripped.
    internal const string BlankMarkerWords =
        "password passwd passphrase pass pwd pw psk pin pop secret token key apikey credentials credential creds "
        + "bearer authorization wpa wpa2 wpa3 ssid essid hotspot name point connection con profile network wifi wlan lat lon lng "
        + "latitude longitude connect join joined reconnect wps_reg";

    // The prepositions that name a network after a connect verb ("associated with", "connected to").
    internal const string ConnectPrepositionWords = "to with onto from";

    private static readonly WordSet BlankWords = new(BlankMarkerWords);

    private static readonly WordSet ConnectPrepositions = new(ConnectPrepositionWords);

    internal static bool IsBlankWord(ReadOnlySpan<byte> word, ReadOnlySpan<byte> previous) =>
        BlankWords.Contains(word) || (ConnectPrepositions.Contains(word) && !previous.IsEmpty && ConnectVerbs.Contains(previous));

    internal static bool IsConnectPreposition(ReadOnlySpan<byte> word) => ConnectPrepositions.Contains(word);

    internal static bool IsProseWord(ReadOnlySpan<byte> word) => ProseWords.Contains(word);

    internal static LinkWord LinkWordOf(ReadOnlySpan<byte> word) =>
        Terminals.Contains(word) ? LinkWord.Terminal
        : Verbs.Contains(word) ? LinkWord.Verb
        : Neutrals.Contains(word) ? LinkWord.Neutral
        : IsWord(word, "any"u8) ? LinkWord.Any
        : LinkWord.None;

    internal static bool IsConnectVerb(ReadOnlySpan<byte> word) => ConnectVerbs.Contains(word);

    internal static bool IsBareConnectVerb(ReadOnlySpan<byte> word) => BareConnectVerbs.Contains(word);

    internal static bool IsNetworkNoun(ReadOnlySpan<byte> word) => NetworkNouns.Contains(word);

    internal static bool IsWifiWord(ReadOnlySpan<byte> word) =>
        WifiWords.Contains(word) || (word.Length is 5 or 6 && IsLowerWord(word, "wlan"u8) && IsDigit(word[4]));

    internal static bool IsInterfacePrefix(ReadOnlySpan<byte> letters) => InterfacePrefixes.Contains(letters);

    internal static bool IsKeyQualifier(ReadOnlySpan<byte> word) => KeyQualifiers.Contains(word);

    internal static bool IsRadioWord(ReadOnlySpan<byte> word) => RadioWords.Contains(word);

    internal static bool IsProfileWord(ReadOnlySpan<byte> word) => ProfileWords.Contains(word);

    internal static bool IsPreposition(ReadOnlySpan<byte> word) => Prepositions.Contains(word);

    internal static bool IsArticle(ReadOnlySpan<byte> word) => IsWord(word, "a"u8) || IsWord(word, "an"u8) || IsWord(word, "the"u8);

    internal static bool IsProfileVerb(ReadOnlySpan<byte> word) => ProfileVerbs.Contains(word);

    internal static bool IsInfrastructureWord(ReadOnlySpan<byte> word) => InfrastructureWords.Contains(word);

    internal static bool IsAuthMethodPrefix(ReadOnlySpan<byte> word) => AuthMethodPrefixes.Contains(word);

    internal static bool IsSsidFlagPrefix(ReadOnlySpan<byte> word) => SsidFlagPrefixes.Contains(word);

    internal static bool IsSwitchWord(ReadOnlySpan<byte> word) => SwitchWords.Contains(word);

    // A word that is itself a secret or Wi-Fi name marker ("password", "psk", "ssid"): the start of the next
    // field, never a value.
    internal static bool IsMarkerWord(ReadOnlySpan<byte> word)
    {
        // "wifi-sec.psk", "802-11-wireless.ssid": the last part of a dotted name.
        var dot = word.LastIndexOf((byte)'.');
        if (dot >= 0 && dot < word.Length - 1)
        {
            word = word[(dot + 1)..];
        }

        // "Stall_AP", "Guest-AP": a qualified "ap" or "connection" is a name more often than a field.
        var kind = MarkerGrammar.ClassifyIdentifier(word, 0, out var end);
        return end == word.Length && (kind is MarkerKind.Secret or MarkerKind.WeakSecret or MarkerKind.Ssid
            || (kind == MarkerKind.Profile && word.IndexOfAny((byte)'_', (byte)'-') < 0));
    }

    internal static bool MentionsWifi(ReadOnlySpan<byte> lowercaseLine)
    {
        foreach (var mention in WifiMentions)
        {
            if (lowercaseLine.IndexOf(mention) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A set of short ASCII words, looked up ignoring case without allocating.</summary>
    private sealed class WordSet
    {
        // Words by length, lowercase.
        private readonly byte[][][] _byLength = new byte[MaxWordLength + 1][][];

        public WordSet(string words)
        {
            var lists = new List<byte[]>[MaxWordLength + 1];
            foreach (var word in words.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var bytes = Encoding.ASCII.GetBytes(word.ToLowerInvariant());
                (lists[bytes.Length] ??= []).Add(bytes);
            }

            for (var n = 0; n <= MaxWordLength; n++)
            {
                _byLength[n] = lists[n]?.ToArray() ?? [];
            }
        }

        public bool Contains(ReadOnlySpan<byte> word)
        {
            if (word.Length is 0 or > MaxWordLength)
            {
                return false;
            }

            foreach (var candidate in _byLength[word.Length])
            {
                if (IsLowerWord(word, candidate))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
