using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Text;

/// <summary>What a positional argument of a Wi-Fi command holds.</summary>
internal enum ArgumentRole : byte
{
    None,
    WifiName,
    Secret,

    // An MQTT client id or user name: an account, removed but not remembered.
    Account,
}

/// <summary>
/// Commands and calls that take a Wi-Fi name and its passphrase as positional arguments, with no marker before either:
/// Espressif's ESP-AT firmware (<c>AT+CWJAP="ssid","pwd"</c>, its <c>+CWJAP:"ssid",...</c> answer, <c>AT+CWSAP</c>,
/// <c>+CWLAP:(ecn,"ssid",...)</c>, <c>AT+MQTTUSERCFG=&lt;link&gt;,&lt;scheme&gt;,"client_id","username","password",...</c>),
/// Quectel's (<c>AT+QSTAAPINFO="ssid","pwd"</c>, <c>AT+QMTCONN=&lt;idx&gt;,"client_id","username","password"</c>), the
/// Arduino cores' <c>WiFi.begin("ssid", "pwd")</c>, <c>WiFi.softAP(...)</c>, <c>WiFiMulti.addAP(...)</c>, and
/// MicroPython's and CircuitPython's <c>wlan.connect('ssid', 'key')</c>, <c>wifi.radio.connect(...)</c>.
/// </summary>
internal static class ArgumentCommands
{
    private const int MaxArguments = 8;
    private const int MaxCommandLength = 16;

    /// <summary>
    /// The roles of the arguments after the command that ends at <paramref name="p"/> (its '=', ':' or '('), or an
    /// empty span when the word before <paramref name="p"/> is none of these commands.
    /// </summary>
    internal static ReadOnlySpan<ArgumentRole> RolesOf(ReadOnlySpan<byte> s, int p, out int argumentsStart)
    {
        argumentsStart = p + 1;
        var b = p;
        while (b > 0 && p - b < MaxCommandLength && (IsAlphanumeric(s[b - 1]) || s[b - 1] == '_'))
        {
            b--;
        }

        if (b == p || (b > 0 && IsAlphanumeric(s[b - 1])))
        {
            return default;
        }

        var command = s[b..p];
        var separator = s[p];
        var atCommand = b > 0 && s[b - 1] == '+';
        if (atCommand && separator is (byte)'=' or (byte)':')
        {
            if (StartsWith(command, "CWJAP"u8))
            {
                // AT+CWJAP="ssid","pwd",...; the answer +CWJAP:"ssid","bssid",... names the network only.
                return separator == '=' ? JoinRoles : NameRole;
            }

            if (StartsWith(command, "CWSAP"u8))
            {
                return JoinRoles;
            }

            if (StartsWith(command, "CWLAP"u8) && separator == ':' && p + 1 < s.Length && s[p + 1] == '(')
            {
                argumentsStart = p + 2;
                return ScanRoles;
            }

            if (StartsWith(command, "MQTTUSERCFG"u8) && separator == '=')
            {
                return MqttUserRoles;
            }

            if (StartsWith(command, "QSTAAPINFO"u8) && separator == '=')
            {
                return JoinRoles;
            }

            if (StartsWith(command, "QMTCONN"u8) && separator == '=')
            {
                return MqttConnectRoles;
            }

            return default;
        }

        if (separator == '(' && b > 0 && s[b - 1] == '.'
            && (IsWord(command, "begin"u8) || IsWord(command, "softap"u8) || IsWord(command, "addap"u8)))
        {
            return JoinRoles;
        }

        // "wlan.connect('ssid', 'key')", "wifi.radio.connect(...)": connect on a Wi-Fi interface object.
        if (separator == '(' && b > 1 && s[b - 1] == '.' && IsWord(command, "connect"u8) && IsWifiInterfaceObject(s, b - 1))
        {
            return JoinRoles;
        }

        return default;
    }

    /// <summary>
    /// The next argument from <paramref name="i"/>: a quoted string (its quotes included) or a bare token up to ',',
    /// ')' or a blank. Returns false at the end of the argument list.
    /// </summary>
    internal static bool NextArgument(ReadOnlySpan<byte> s, int i, out int start, out int end)
    {
        start = SkipBlanks(s, i);
        end = start;
        if (start >= s.Length || s[start] is (byte)'\n' or (byte)'\r' or (byte)')')
        {
            return false;
        }

        if (IsQuote(s[start]))
        {
            end = MarkerGrammar.QuotedEnd(s, start);
            return true;
        }

        while (end < s.Length && s[end] is not ((byte)',' or (byte)')' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
        {
            end++;
        }

        return true;
    }

    /// <summary>Where the argument list continues after an argument ending at <paramref name="end"/>, or -1.</summary>
    internal static int AfterComma(ReadOnlySpan<byte> s, int end)
    {
        var k = SkipBlanks(s, end);
        return k < s.Length && s[k] == ',' ? k + 1 : -1;
    }

    internal static int Count(ReadOnlySpan<ArgumentRole> roles) => Math.Min(roles.Length, MaxArguments);

    private static ReadOnlySpan<ArgumentRole> JoinRoles => [ArgumentRole.WifiName, ArgumentRole.Secret];

    private static ReadOnlySpan<ArgumentRole> NameRole => [ArgumentRole.WifiName];

    private static ReadOnlySpan<ArgumentRole> ScanRoles => [ArgumentRole.None, ArgumentRole.WifiName];

    // AT+MQTTUSERCFG=<LinkID>,<scheme>,<"client_id">,<"username">,<"password">,...
    private static ReadOnlySpan<ArgumentRole> MqttUserRoles => [ArgumentRole.None, ArgumentRole.None, ArgumentRole.Account, ArgumentRole.Account, ArgumentRole.Secret];

    // AT+QMTCONN=<client_idx>,<"clientID">[,<"username">,<"password">]
    private static ReadOnlySpan<ArgumentRole> MqttConnectRoles => [ArgumentRole.None, ArgumentRole.Account, ArgumentRole.Account, ArgumentRole.Secret];

    // The object before the '.' at dot: "wlan", "sta_if", "nic", "wifi.radio", "station" (the names MicroPython's and
    // CircuitPython's documentation give a station interface).
    private static bool IsWifiInterfaceObject(ReadOnlySpan<byte> s, int dot)
    {
        var b = dot;
        while (b > 0 && dot - b < MaxCommandLength && (IsAlphanumeric(s[b - 1]) || s[b - 1] == '_'))
        {
            b--;
        }

        var name = s[b..dot];
        return IsWord(name, "wlan"u8) || IsWord(name, "sta_if"u8) || IsWord(name, "sta"u8) || IsWord(name, "nic"u8) || IsWord(name, "station"u8)
            || IsWord(name, "radio"u8) || IsWord(name, "wifi"u8);
    }

    private static bool StartsWith(ReadOnlySpan<byte> command, ReadOnlySpan<byte> upper) =>
        command.Length >= upper.Length && command[..upper.Length].SequenceEqual(upper)
        && (command.Length == upper.Length || command[upper.Length] == '_');
}
