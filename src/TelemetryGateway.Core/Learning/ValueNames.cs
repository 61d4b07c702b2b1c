using TelemetryGateway.Core.Text;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Learning;

/// <summary>What a value is, by the name that carries it (a JSON member, a protobuf field).</summary>
internal enum ValueName
{
    None,
    WifiName,
    WifiSecret,
    Mac,
    Phone,
    PersonName,
    Street,
}

/// <summary>
/// The names that carry the values the gateway learns, whatever the format that names them: a Wi-Fi name or secret by
/// the marker words the log grammar knows (<c>ssid</c>, <c>wifi_name</c>, <c>password</c>, <c>psk</c>, ...), a MAC or
/// BSSID, a phone number, and the name and street of a person under an owner, installer, customer or contact object;
/// an e-mail address is learned wherever it is.
/// </summary>
internal static class ValueNames
{
    /// <summary>What a value under <paramref name="name"/> is, and whether an object under it is about a person or a Wi-Fi network.</summary>
    public static ValueName Classify(ReadOnlySpan<byte> name, bool inContact, bool inWifi, out bool opensContact, out bool opensWifi)
    {
        opensContact = false;
        opensWifi = false;
        if (name.IsEmpty)
        {
            return ValueName.None;
        }

        var kind = MarkerGrammar.ClassifyIdentifier(name, 0, out var end);
        var whole = end == name.Length;
        var last = LastSegment(name);
        var previous = PreviousSegment(name, last);
        opensContact = IsPersonWord(last);
        opensWifi = kind == MarkerKind.SsidComponent || IsWord(last, "sta"u8) || IsWord(last, "ap"u8) || IsWord(last, "wireless"u8);
        if (whole && kind == MarkerKind.Secret)
        {
            return ValueName.WifiSecret;
        }

        // "pass", "key", "pin" alone are Wi-Fi secrets only inside a Wi-Fi object ({"wifi": {"pass": ...}}).
        if (whole && kind == MarkerKind.WeakSecret && inWifi)
        {
            return ValueName.WifiSecret;
        }

        if (whole && kind == MarkerKind.Ssid)
        {
            return ValueName.WifiName;
        }

        // {"wifi": "Home"}, {"wlan": "Home"}: the name of the network (an object under it is read field by field).
        if (whole && kind == MarkerKind.SsidComponent && !IsWord(last, "network"u8))
        {
            return ValueName.WifiName;
        }

        if (IsWord(last, "bssid"u8) || IsWord(last, "mac"u8) || (IsWord(last, "address"u8) && IsWord(previous, "mac"u8)))
        {
            return ValueName.Mac;
        }

        if (IsWord(last, "phone"u8) || IsWord(last, "mobile"u8) || IsWord(last, "tel"u8) || IsWord(last, "telephone"u8) || IsWord(last, "fax"u8))
        {
            return ValueName.Phone;
        }

        // "name" inside an owner or installer object, "owner_name", "first_name", "surname".
        if ((IsWord(last, "name"u8) && (inContact || IsPersonWord(previous) || IsWord(previous, "first"u8) || IsWord(previous, "last"u8)
                || IsWord(previous, "full"u8) || IsWord(previous, "given"u8) || IsWord(previous, "family"u8)))
            || IsWord(last, "surname"u8) || IsWord(last, "firstname"u8) || IsWord(last, "lastname"u8) || IsWord(last, "fullname"u8))
        {
            return ValueName.PersonName;
        }

        if (IsWord(last, "street"u8) || IsWord(last, "address1"u8) || IsWord(last, "line1"u8)
            || (IsWord(last, "address"u8) && (inContact || IsPersonWord(previous) || IsWord(previous, "street"u8) || IsWord(previous, "postal"u8))))
        {
            return ValueName.Street;
        }

        return ValueName.None;
    }

    /// <summary>The class a string value under a name of this kind is learned as; null when it is not learned.</summary>
    public static LearnedClass? ClassOf(ValueName key, ReadOnlySpan<byte> value)
    {
        if (value.Length < LearnedSecretSet.MinLength)
        {
            return null;
        }

        // An e-mail address is learned wherever it is.
        if (MatchEmail(value, 0, out var emailEnd) && emailEnd == value.Length)
        {
            return LearnedClass.Email;
        }

        return key switch
        {
            ValueName.WifiName => LearnedClass.WifiName,
            ValueName.WifiSecret => LearnedClass.WifiSecret,
            ValueName.Mac when MatchMac(value, 0, out var macEnd) && macEnd == value.Length => LearnedClass.Mac,
            ValueName.Phone when DigitCount(value) >= 6 => LearnedClass.Phone,
            ValueName.PersonName when HasLetter(value) => LearnedClass.Name,
            ValueName.Street when HasLetter(value) && value.Contains((byte)' ') => LearnedClass.Address,
            _ => null,
        };
    }

    private static bool IsPersonWord(ReadOnlySpan<byte> word) =>
        IsWord(word, "owner"u8) || IsWord(word, "installer"u8) || IsWord(word, "customer"u8) || IsWord(word, "contact"u8)
        || IsWord(word, "user"u8) || IsWord(word, "person"u8) || IsWord(word, "billing"u8) || IsWord(word, "shipping"u8);

    private static int DigitCount(ReadOnlySpan<byte> value)
    {
        var digits = 0;
        foreach (var b in value)
        {
            digits += IsDigit(b) ? 1 : 0;
        }

        return digits;
    }

    private static bool HasLetter(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (IsLetter(b) || b >= 0x80)
            {
                return true;
            }
        }

        return false;
    }

    // The last segment of "owner_name", "wifi.password", "ownerName": "name", "password", "Name".
    private static ReadOnlySpan<byte> LastSegment(ReadOnlySpan<byte> name)
    {
        for (var j = name.Length - 1; j > 0; j--)
        {
            if (name[j - 1] is (byte)'_' or (byte)'-' or (byte)'.')
            {
                return name[j..];
            }

            if ((IsLower(name[j - 1]) || IsDigit(name[j - 1])) && IsUpper(name[j]))
            {
                return name[j..];
            }
        }

        return name;
    }

    private static ReadOnlySpan<byte> PreviousSegment(ReadOnlySpan<byte> name, ReadOnlySpan<byte> last)
    {
        var before = name[..(name.Length - last.Length)].TrimEnd("_-."u8);
        return before.IsEmpty ? [] : LastSegment(before);
    }
}
