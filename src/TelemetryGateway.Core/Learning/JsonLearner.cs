using System.Buffers;
using System.Text.Json;
using TelemetryGateway.Core.Text;
using static TelemetryGateway.Core.Text.LogPatterns;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// Learns the values a JSON message reveals, by the names that carry them: a Wi-Fi name or secret by the same marker
/// words the log grammar knows (<c>ssid</c>, <c>wifi_name</c>, <c>password</c>, <c>psk</c>, <c>wpa_passphrase</c>, ...),
/// a MAC or BSSID, an e-mail address wherever it is, a phone number, and the name and street of a person under an
/// owner, installer, customer or contact object. Allocates nothing unless a value is new.
/// </summary>
internal static class JsonLearner
{
    private const int MaxNameLength = 64;
    private const int MaxEscapedValueLength = LearnedSecretSet.MaxLength * 6;

    /// <summary>Learns from <paramref name="payload"/> (well-formed JSON) for <paramref name="device"/>; returns how many values were new.</summary>
    public static int Learn(in ReadOnlySequence<byte> payload, ReadOnlySpan<char> device, LearnedSecrets store, int maxDepth)
    {
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        Span<byte> name = stackalloc byte[MaxNameLength];
        Span<byte> value = stackalloc byte[MaxEscapedValueLength];
        var key = Key.None;
        var keyOpensContact = false;
        var keyOpensWifi = false;
        var contactFrom = -1;
        var wifiFrom = -1;
        var learned = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var nameLength = EscapedLength(ref reader) <= MaxNameLength ? reader.CopyString(name) : 0;
                        key = Classify(name[..nameLength], contactFrom >= 0, wifiFrom >= 0, out keyOpensContact, out keyOpensWifi);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (keyOpensContact && contactFrom < 0)
                        {
                            contactFrom = reader.CurrentDepth;
                        }

                        if (keyOpensWifi && wifiFrom < 0)
                        {
                            wifiFrom = reader.CurrentDepth;
                        }

                        keyOpensContact = keyOpensWifi = false;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        contactFrom = reader.CurrentDepth == contactFrom ? -1 : contactFrom;
                        wifiFrom = reader.CurrentDepth == wifiFrom ? -1 : wifiFrom;
                        key = Key.None;
                        break;
                    case JsonTokenType.String when EscapedLength(ref reader) <= MaxEscapedValueLength:
                        var text = value[..reader.CopyString(value)];
                        if (ClassOf(key, text) is { } kind && store.Learn(device, kind, text))
                        {
                            learned++;
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            // The rewriter decides what becomes of a malformed message; what was read so far is learned.
        }

        return learned;
    }

    private enum Key
    {
        None,
        WifiName,
        WifiSecret,
        Mac,
        Phone,
        PersonName,
        Street,
    }

    private static int EscapedLength(ref Utf8JsonReader reader) => reader.HasValueSequence ? (int)Math.Min(int.MaxValue, reader.ValueSequence.Length) : reader.ValueSpan.Length;

    // What a value under this name is, and whether an object under it is about a person or a Wi-Fi network.
    private static Key Classify(ReadOnlySpan<byte> name, bool inContact, bool inWifi, out bool opensContact, out bool opensWifi)
    {
        opensContact = false;
        opensWifi = false;
        if (name.IsEmpty)
        {
            return Key.None;
        }

        var kind = MarkerGrammar.ClassifyIdentifier(name, 0, out var end);
        var whole = end == name.Length;
        var last = LastSegment(name);
        var previous = PreviousSegment(name, last);
        opensContact = IsPersonWord(last);
        opensWifi = kind == MarkerKind.SsidComponent || IsWord(last, "sta"u8) || IsWord(last, "ap"u8) || IsWord(last, "wireless"u8);
        if (whole && kind == MarkerKind.Secret)
        {
            return Key.WifiSecret;
        }

        // "pass", "key", "pin" alone are Wi-Fi secrets only inside a Wi-Fi object ({"wifi": {"pass": ...}}).
        if (whole && kind == MarkerKind.WeakSecret && inWifi)
        {
            return Key.WifiSecret;
        }

        if (whole && kind == MarkerKind.Ssid)
        {
            return Key.WifiName;
        }

        // {"wifi": "Home"}, {"wlan": "Home"}: the name of the network (an object under it is read field by field).
        if (whole && kind == MarkerKind.SsidComponent && !IsWord(last, "network"u8))
        {
            return Key.WifiName;
        }

        if (IsWord(last, "bssid"u8) || IsWord(last, "mac"u8) || (IsWord(last, "address"u8) && IsWord(previous, "mac"u8)))
        {
            return Key.Mac;
        }

        if (IsWord(last, "phone"u8) || IsWord(last, "mobile"u8) || IsWord(last, "tel"u8) || IsWord(last, "telephone"u8) || IsWord(last, "fax"u8))
        {
            return Key.Phone;
        }

        // "name" inside an owner or installer object, "owner_name", "first_name", "surname".
        if ((IsWord(last, "name"u8) && (inContact || IsPersonWord(previous) || IsWord(previous, "first"u8) || IsWord(previous, "last"u8)
                || IsWord(previous, "full"u8) || IsWord(previous, "given"u8) || IsWord(previous, "family"u8)))
            || IsWord(last, "surname"u8) || IsWord(last, "firstname"u8) || IsWord(last, "lastname"u8) || IsWord(last, "fullname"u8))
        {
            return Key.PersonName;
        }

        if (IsWord(last, "street"u8) || IsWord(last, "address1"u8) || IsWord(last, "line1"u8)
            || (IsWord(last, "address"u8) && (inContact || IsPersonWord(previous) || IsWord(previous, "street"u8) || IsWord(previous, "postal"u8))))
        {
            return Key.Street;
        }

        return Key.None;
    }

    // The class of a string value under a name of this key; null when it is not learned.
    private static LearnedClass? ClassOf(Key key, ReadOnlySpan<byte> value)
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
            Key.WifiName => LearnedClass.WifiName,
            Key.WifiSecret => LearnedClass.WifiSecret,
            Key.Mac when MatchMac(value, 0, out var macEnd) && macEnd == value.Length => LearnedClass.Mac,
            Key.Phone when DigitCount(value) >= 6 => LearnedClass.Phone,
            Key.PersonName when HasLetter(value) => LearnedClass.Name,
            Key.Street when HasLetter(value) && value.Contains((byte)' ') => LearnedClass.Address,
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
