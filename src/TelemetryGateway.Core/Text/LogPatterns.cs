using System.Text;

namespace TelemetryGateway.Core.Text;

/// <summary>
/// The patterns of personal data in free text, as matchers over UTF-8 bytes: each looks at a candidate start and
/// returns where the match ends. Every look-ahead is bounded by a small constant or consumes what it scanned, so
/// a scan that tries them at each candidate stays linear in the input length.
/// </summary>
internal static class LogPatterns
{
    internal const int MaxIdentifierLength = 64;
    private const int MaxEmailLocalLength = 64;
    private const int MaxEmailDomainLength = 253;

    // "0000:0000:0000:0000:0000:ffff:255.255.255.255" is the longest IPv6 text without a zone.
    private const int MaxIpv6TextLength = 45;
    private const int MaxPortDigits = 5;
    private const int MaxPhoneTextLength = 32;
    private const int MinPhoneDigits = 7;

    // E.164 caps a phone number at 15 digits; longer digit runs are identifiers, not phones.
    private const int MaxPhoneDigits = 15;
    private const int MaxNumberTextLength = 32;
    private const int MinPairDecimals = 3;
    private const int MaxPairSpaces = 4;
    private const int MinSpacePairDecimals = 5;

    // segment has the literal's length; the literal is lowercase letters, and OR 0x20 maps only letters onto them.
    internal static bool IsLowerWord(ReadOnlySpan<byte> segment, ReadOnlySpan<byte> lowercase)
    {
        for (var k = 0; k < lowercase.Length; k++)
        {
            if ((segment[k] | 0x20) != lowercase[k])
            {
                return false;
            }
        }

        return true;
    }

    internal static bool MatchEmail(ReadOnlySpan<byte> s, int i, out int end)
    {
        end = i;
        var j = i;
        while (j < s.Length && IsEmailLocalByte(s[j]))
        {
            if (j - i >= MaxEmailLocalLength)
            {
                return false;
            }

            j++;
        }

        if (j >= s.Length || s[j] != '@')
        {
            return false;
        }

        var domainStart = ++j;
        var labels = 0;
        var domainEnd = -1;
        while (true)
        {
            var labelStart = j;
            var alphabetic = true;
            while (j < s.Length && (IsAlphanumeric(s[j]) || s[j] == '-'))
            {
                if (j - domainStart >= MaxEmailDomainLength)
                {
                    return false;
                }

                alphabetic &= IsLetter(s[j]);
                j++;
            }

            if (j == labelStart)
            {
                break;
            }

            labels++;
            domainEnd = labels >= 2 && alphabetic && j - labelStart >= 2 ? j : -1;

            // A trailing '.' ends the sentence, not the domain.
            if (j + 1 < s.Length && s[j] == '.' && IsAlphanumeric(s[j + 1]))
            {
                j++;
                continue;
            }

            break;
        }

        if (domainEnd < 0 || (domainEnd < s.Length && (IsWordByte(s[domainEnd]) || s[domainEnd] == '@')))
        {
            return false;
        }

        end = domainEnd;
        return true;
    }

    // aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff, or a bare aabbccddeeff with both digits and letters.
    internal static bool MatchMac(ReadOnlySpan<byte> s, int i, out int end)
    {
        end = i;
        if (!IsHex(s[i]))
        {
            return false;
        }

        if (i + 17 <= s.Length && (s[i + 2] == ':' || s[i + 2] == '-') && IsHexGroups(s, i, 6, 2, s[i + 2]))
        {
            end = i + 17;
        }
        else if (i + 22 <= s.Length && s[i + 2] == '\\' && IsEscapedColonGroups(s, i))
        {
            // nmcli's terse output escapes each ':' ("2C\:91\:AB\:4E\:07\:D5").
            end = i + 22;
        }
        else if (i + 14 <= s.Length && s[i + 4] == '.' && IsHexGroups(s, i, 3, 4, (byte)'.'))
        {
            end = i + 14;
        }
        else if (i + 12 <= s.Length && IsHexGroups(s, i, 1, 12, 0) && HasDigitAndLetter(s.Slice(i, 12)) && FollowsMacMarker(s, i))
        {
            end = i + 12;
        }
        else
        {
            return false;
        }

        return EndsToken(s, end);
    }

    // Twelve bare hex digits are as often a hash or an error code as a MAC, so they count as a MAC only right after
    // a MAC marker: "bssid cb1971174494", "mac=CB1971174494", "BT addr: cb1971174494".
    private static bool FollowsMacMarker(ReadOnlySpan<byte> s, int i)
    {
        var j = i;
        while (j > 0 && i - j < 4 && s[j - 1] is (byte)' ' or (byte)'\t' or (byte)'=' or (byte)':' or (byte)'"' or (byte)'\'')
        {
            j--;
        }

        var wordEnd = j;
        while (j > 0 && wordEnd - j < MaxIdentifierLength && IsLetter(s[j - 1]))
        {
            j--;
        }

        var word = s[j..wordEnd];
        return j < wordEnd && wordEnd < i
            && (Ascii.EqualsIgnoreCase(word, "mac"u8) || Ascii.EqualsIgnoreCase(word, "bssid"u8) || Ascii.EqualsIgnoreCase(word, "addr"u8)
                || Ascii.EqualsIgnoreCase(word, "address"u8) || Ascii.EqualsIgnoreCase(word, "hwaddr"u8) || Ascii.EqualsIgnoreCase(word, "ether"u8)
                || Ascii.EqualsIgnoreCase(word, "macaddr"u8) || Ascii.EqualsIgnoreCase(word, "lladdr"u8));
    }

    private static bool IsEscapedColonGroups(ReadOnlySpan<byte> s, int i)
    {
        for (var g = 0; g < 6; g++)
        {
            var p = i + (g * 4);
            if (!IsHex(s[p]) || !IsHex(s[p + 1]) || (g < 5 && (s[p + 2] != '\\' || s[p + 3] != ':')))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsHexGroups(ReadOnlySpan<byte> s, int i, int groups, int groupLength, byte separator)
    {
        var p = i;
        for (var g = 0; g < groups; g++)
        {
            if (g > 0 && s[p++] != separator)
            {
                return false;
            }

            for (var k = 0; k < groupLength; k++)
            {
                if (!IsHex(s[p++]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    // The shape of an address only: the caller validates it by truncating it (IpTruncation parses it once).
    // Needs "::" or all eight groups, so clock times ("10:00:01") and MACs never qualify.
    internal static bool MatchIpv6(ReadOnlySpan<byte> s, int i, out int addressStart, out int addressEnd, out int end)
    {
        addressStart = addressEnd = end = i;
        var bracketed = s[i] == '[';
        var j = bracketed ? i + 1 : i;
        if (j >= s.Length || !(IsHex(s[j]) || (s[j] == ':' && j + 1 < s.Length && s[j + 1] == ':')))
        {
            return false;
        }

        var start = j;
        var colons = 0;
        var dots = 0;
        var compressed = false;
        var groupLength = 0;
        while (j < s.Length)
        {
            var c = s[j];
            if (IsHex(c))
            {
                if (++groupLength > 4)
                {
                    return false;
                }
            }
            else if (c == ':')
            {
                if (dots > 0)
                {
                    return false;
                }

                if (j > start && s[j - 1] == ':')
                {
                    if (compressed)
                    {
                        return false;
                    }

                    compressed = true;
                }

                colons++;
                groupLength = 0;
            }
            else if (c == '.')
            {
                dots++;
                groupLength = 0;
            }
            else
            {
                break;
            }

            if (++j - start > MaxIpv6TextLength)
            {
                return false;
            }
        }

        var stop = j;
        if (!bracketed)
        {
            // Sentence punctuation right after an address is not part of it.
            if (s[stop - 1] == '.')
            {
                stop--;
                dots--;
            }
            else if (s[stop - 1] == ':' && !(stop - 2 >= start && s[stop - 2] == ':'))
            {
                stop--;
                colons--;
            }
        }

        if (colons < 2 || !(compressed || colons == 7 || (colons == 6 && dots == 3)))
        {
            return false;
        }

        end = stop;
        if (bracketed)
        {
            if (end >= s.Length || s[end] != ']')
            {
                return false;
            }

            end = SkipPort(s, end + 1);
        }

        if (end < s.Length && IsWordByte(s[end]))
        {
            return false;
        }

        addressStart = start;
        addressEnd = stop;
        return true;
    }

    internal static bool MatchIpv4(ReadOnlySpan<byte> s, int i, out int addressStart, out int addressEnd, out int end)
    {
        addressStart = addressEnd = end = i;
        var j = i;
        for (var part = 0; part < 4; part++)
        {
            if (part > 0)
            {
                if (j >= s.Length || s[j] != '.')
                {
                    return false;
                }

                j++;
            }

            var digitsStart = j;
            while (j < s.Length && IsDigit(s[j]) && j - digitsStart < 3)
            {
                j++;
            }

            if (j == digitsStart)
            {
                return false;
            }
        }

        if (j < s.Length && (IsWordByte(s[j]) || (s[j] == '.' && j + 1 < s.Length && IsDigit(s[j + 1]))))
        {
            return false;
        }

        // "0.2.3.1" (no host has an address in 0.0.0.0/8) and "rev 1.0.3.7" are versions.
        if ((s[i] == '0' && s[i + 1] == '.' && !s[i..j].SequenceEqual("0.0.0.0"u8)) || FollowsVersionMarker(s, i))
        {
            return false;
        }

        addressEnd = j;
        end = SkipPort(s, j);
        return true;
    }

    private static bool FollowsVersionMarker(ReadOnlySpan<byte> s, int i)
    {
        var j = i;
        while (j > 0 && i - j < 3 && s[j - 1] is (byte)' ' or (byte)'=' or (byte)':')
        {
            j--;
        }

        var wordEnd = j;
        while (j > 0 && wordEnd - j < 16 && IsLetter(s[j - 1]))
        {
            j--;
        }

        var word = s[j..wordEnd];
        return word.Length is >= 2 and <= 8
                && (IsWord(word, "ver"u8) || IsWord(word, "version"u8) || IsWord(word, "rev"u8) || IsWord(word, "fw"u8)
                    || IsWord(word, "firmware"u8) || IsWord(word, "hw"u8) || IsWord(word, "sw"u8) || IsWord(word, "build"u8));
    }

    internal static bool IsWord(ReadOnlySpan<byte> word, ReadOnlySpan<byte> lowercase) =>
        word.Length == lowercase.Length && IsLowerWord(word, lowercase);

    // Includes ":port" (1-5 digits) after an address when present.
    internal static int SkipPort(ReadOnlySpan<byte> s, int j)
    {
        if (j >= s.Length || s[j] != ':')
        {
            return j;
        }

        var p = j + 1;
        while (p < s.Length && IsDigit(s[p]) && p - j <= MaxPortDigits)
        {
            p++;
        }

        return p > j + 1 && (p == s.Length || !IsWordByte(s[p])) ? p : j;
    }

    // Two decimals with at least three decimal places joined by a comma: "48.137361, 11.575465".
    // "48.137361, 11.575465", "48.137361°N, 11.575465°E", and two long decimals apart by one space
    // ("48.13736 11.57546", five decimals or more: readings rarely have so many).
    internal static bool MatchCoordinatePair(ReadOnlySpan<byte> s, int i, out int firstEnd, out int secondStart, out int end)
    {
        secondStart = end = i;
        firstEnd = MatchPairNumber(s, i, 90);
        if (firstEnd < 0)
        {
            return false;
        }

        var k = SkipDegreeAndHemisphere(s, firstEnd, (byte)'N', (byte)'S');
        var separator = SkipSpaces(s, k, MaxPairSpaces);
        var spaceOnly = false;
        if (separator < s.Length && s[separator] == ',')
        {
            secondStart = SkipSpaces(s, separator + 1, MaxPairSpaces);
        }
        else if (k == firstEnd && separator == firstEnd + 1 && FractionDigits(s, i, firstEnd) >= MinSpacePairDecimals)
        {
            secondStart = separator;
            spaceOnly = true;
        }
        else
        {
            return false;
        }

        end = MatchPairNumber(s, secondStart, 180);
        return end >= 0 && EndsNumber(s, end)
            && (!spaceOnly || (FractionDigits(s, secondStart, end) >= MinSpacePairDecimals && (end == s.Length || !IsWordByte(s[end]))));
    }

    private static int SkipDegreeAndHemisphere(ReadOnlySpan<byte> s, int i, byte north, byte south)
    {
        var j = i;
        if (j + 1 < s.Length && s[j] == 0xC2 && s[j + 1] == 0xB0)
        {
            j += 2;
        }

        if (j < s.Length && (s[j] & 0xDF) is var letter && (letter == north || letter == south) && (j + 1 == s.Length || !IsWordByte(s[j + 1])))
        {
            j++;
        }

        return j;
    }

    private static int FractionDigits(ReadOnlySpan<byte> s, int start, int end)
    {
        var dot = s[start..end].IndexOf((byte)'.');
        return dot < 0 ? 0 : end - start - dot - 1;
    }

    // NMEA positions: "4807.038,N,01131.000,E" (degrees and minutes, hemisphere letters).
    internal static bool MatchNmeaPosition(ReadOnlySpan<byte> s, int i, out int latitudeEnd, out int longitudeStart, out int longitudeEnd)
    {
        longitudeStart = longitudeEnd = i;
        latitudeEnd = NmeaNumberEnd(s, i, 4);
        if (latitudeEnd < 0 || latitudeEnd + 3 >= s.Length || s[latitudeEnd] != ',' || s[latitudeEnd + 1] is not ((byte)'N' or (byte)'S') || s[latitudeEnd + 2] != ',')
        {
            return false;
        }

        longitudeStart = latitudeEnd + 3;
        longitudeEnd = NmeaNumberEnd(s, longitudeStart, 5);
        return longitudeEnd >= 0 && longitudeEnd + 1 < s.Length && s[longitudeEnd] == ',' && s[longitudeEnd + 1] is (byte)'E' or (byte)'W';
    }

    private static int NmeaNumberEnd(ReadOnlySpan<byte> s, int i, int integerDigits)
    {
        if (!IsDigits(s, i, integerDigits) || !At(s, i + integerDigits, '.'))
        {
            return -1;
        }

        var j = i + integerDigits + 1;
        var fractionStart = j;
        while (j < s.Length && IsDigit(s[j]) && j - fractionStart < 8)
        {
            j++;
        }

        return j > fractionStart ? j : -1;
    }

    internal static int MatchPairNumber(ReadOnlySpan<byte> s, int i, int maxDegrees)
    {
        var j = i < s.Length && s[i] == '-' ? i + 1 : i;
        var integerStart = j;
        var degrees = 0;
        while (j < s.Length && IsDigit(s[j]) && j - integerStart < 3)
        {
            degrees = (degrees * 10) + (s[j] - '0');
            j++;
        }

        if (j == integerStart || degrees > maxDegrees || j >= s.Length || s[j] != '.')
        {
            return -1;
        }

        var fractionStart = ++j;
        while (j < s.Length && IsDigit(s[j]) && j - i < MaxNumberTextLength)
        {
            j++;
        }

        return j - fractionStart >= MinPairDecimals && (j == s.Length || !IsDigit(s[j])) ? j : -1;
    }

    // A coordinate after a marker: optional '-', up to three integer digits, optional fraction.
    internal static int MatchDecimal(ReadOnlySpan<byte> s, int i)
    {
        var j = s[i] == '-' ? i + 1 : i;
        var integerStart = j;
        while (j < s.Length && IsDigit(s[j]) && j - integerStart < 3)
        {
            j++;
        }

        if (j == integerStart || (j < s.Length && IsDigit(s[j])))
        {
            return i;
        }

        if (j + 1 < s.Length && s[j] == '.' && IsDigit(s[j + 1]))
        {
            j++;
            while (j < s.Length && IsDigit(s[j]) && j - i < MaxNumberTextLength)
            {
                j++;
            }
        }

        return EndsNumber(s, j) ? j : i;
    }

    // Digits in groups joined by single ' ', '-' or '.', optional leading '+', optional "(area)".
    internal static bool MatchPhone(ReadOnlySpan<byte> s, int i, out int end)
    {
        end = i;
        var plus = s[i] == '+';
        var j = plus ? i + 1 : i;
        var groups = 0;
        var digits = 0;
        var lastEnd = -1;
        var parens = false;
        var dotSeparated = false;
        var spaceSeparated = false;
        var dashSeparated = false;
        var shortInnerGroup = false;
        var firstStartsWithZero = false;
        byte separator = 0;
        var firstLength = 0;
        var secondLength = 0;
        var thirdLength = 0;
        var slashSeparated = false;

        while (j < s.Length)
        {
            int groupLength;
            int groupStart;
            var parenGroup = false;
            if (s[j] == '(')
            {
                groupStart = ++j;
                while (j < s.Length && IsDigit(s[j]) && j - groupStart < 5)
                {
                    j++;
                }

                groupLength = j - groupStart;
                if (groupLength == 0 || j >= s.Length || s[j] != ')')
                {
                    // "to 0049 171 2345678 (queue=1)": a bracket after the number is not part of it.
                    if (groups == 0)
                    {
                        return false;
                    }

                    break;
                }

                j++;
                parens = true;
                parenGroup = true;
            }
            else if (IsDigit(s[j]))
            {
                groupStart = j;
                while (j < s.Length && IsDigit(s[j]) && j - groupStart <= MaxPhoneDigits)
                {
                    j++;
                }

                groupLength = j - groupStart;
            }
            else
            {
                break;
            }

            // A group that would overflow E.164 is left out, so the digits before it are still redacted.
            if (digits + groupLength > MaxPhoneDigits)
            {
                break;
            }

            if (groups == 0)
            {
                firstLength = groupLength;
                firstStartsWithZero = s[groupStart] == '0';
            }
            else
            {
                // "+49 (0)30 ...": a trunk prefix in parentheses is a group of its own, however short.
                shortInnerGroup |= groupLength < 2 && !parenGroup;
                secondLength = groups == 1 ? groupLength : secondLength;
                thirdLength = groups == 2 ? groupLength : thirdLength;
                dotSeparated |= separator == '.';
                spaceSeparated |= separator == ' ';
                dashSeparated |= separator == '-';
                slashSeparated |= separator == '/';
            }

            groups++;
            digits += groupLength;
            lastEnd = j;
            separator = 0;
            if (j - i > MaxPhoneTextLength || j >= s.Length)
            {
                break;
            }

            var c = s[j];
            if ((c == ' ' || c == '-' || c == '.') && j + 1 < s.Length && (IsDigit(s[j + 1]) || s[j + 1] == '('))
            {
                separator = c;
                j++;
            }
            else if (c == '/' && groups == 1 && !plus && firstStartsWithZero && firstLength is >= 2 and <= 5 && j + 1 < s.Length && IsDigit(s[j + 1]))
            {
                // "030/1234567": a national area code, a slash, the subscriber number.
                separator = c;
                j++;
            }
            else if (!(c == '(' || (s[j - 1] == ')' && IsDigit(c))))
            {
                break;
            }
        }

        if (digits < MinPhoneDigits || lastEnd - i > MaxPhoneTextLength)
        {
            return false;
        }

        // Glued to a word, a time ("2026-11-24 10:00") or a longer number: part of something else.
        if (lastEnd < s.Length
            && (IsWordByte(s[lastEnd]) || s[lastEnd] == '@' || s[lastEnd] == ':'
                || ((s[lastEnd] == '.' || s[lastEnd] == '-') && lastEnd + 1 < s.Length && IsDigit(s[lastEnd + 1]))))
        {
            return false;
        }

        // Versions ("10.0.19045") and decimals ("48.137361") have short inner groups or only two dot groups.
        // After a country code single digits are real groups ("+33 6 12 34 56 78").
        if ((shortInnerGroup && !plus) || (dotSeparated && (groups < 3 || spaceSeparated || dashSeparated)))
        {
            return false;
        }

        var plain = !plus && !parens;

        // A slash joins exactly an area code and a subscriber number of at least five digits.
        if (slashSeparated && (groups != 2 || secondLength < 5))
        {
            return false;
        }

        // "Copyright 2004-2022": a range of years.
        if (plain && groups == 2 && dashSeparated && firstLength == 4 && secondLength == 4 && IsYear(s, i) && IsYear(s, i + 5))
        {
            return false;
        }

        // "BitRate: 72200000": a round reading (four zeros at the end), not a subscriber number.
        if (plain && groups == 1 && !firstStartsWithZero && s[(lastEnd - 4)..lastEnd].SequenceEqual("0000"u8))
        {
            return false;
        }

        // Unix time in seconds or milliseconds (2001 to 2033) is a timestamp, not a phone number.
        if (plain && groups == 1 && (digits == 10 || digits == 13) && s[i] == '1')
        {
            return false;
        }

        if (plain && groups == 3
            && secondLength == 2 && ((firstLength == 4 && thirdLength == 2) || (firstLength == 2 && thirdLength == 4)))
        {
            return false;
        }

        // Space-separated numbers are usually readings ("3301 3302 3299"); accept only a trunk prefix or 3-3-4.
        if (plain && spaceSeparated && !dashSeparated && !firstStartsWithZero
            && !(groups == 3 && firstLength == 3 && secondLength == 3 && thirdLength == 4))
        {
            return false;
        }

        end = lastEnd;
        return true;
    }

    // "19xx" or "20xx".
    private static bool IsYear(ReadOnlySpan<byte> s, int i) =>
        (s[i] == '1' && s[i + 1] == '9') || (s[i] == '2' && s[i + 1] == '0');

    // "2026-11-24", "2026-11-24T10:00:01Z", "2026-11-24 10:00:01.123+01:00", "10:00:01.250": dates and clock times
    // are never personal, and recognising them whole spares trying every pattern on their parts.
    // Returns the index after the date or time, or i.
    internal static int SkipDateTime(ReadOnlySpan<byte> s, int i)
    {
        int j;
        if (IsDigits(s, i, 4) && At(s, i + 4, '-') && IsDigits(s, i + 5, 2) && At(s, i + 7, '-') && IsDigits(s, i + 8, 2))
        {
            j = i + 10;
            if (j < s.Length && s[j] is (byte)'T' or (byte)' ' && IsClockTime(s, j + 1))
            {
                j = ClockTimeEnd(s, j + 1);
            }
        }
        else if (IsClockTime(s, i))
        {
            j = ClockTimeEnd(s, i);
        }
        else
        {
            return i;
        }

        // "10:00:01::1" is an IPv6 address, "2026-11-24x" a word: only a whole date or time is skipped.
        return j < s.Length && (IsAlphanumeric(s[j]) || s[j] == ':' || (s[j] == '.' && j + 1 < s.Length && IsDigit(s[j + 1]))) ? i : j;
    }

    private static bool IsClockTime(ReadOnlySpan<byte> s, int i) =>
        IsDigits(s, i, 2) && At(s, i + 2, ':') && IsDigits(s, i + 3, 2) && At(s, i + 5, ':') && IsDigits(s, i + 6, 2);

    // hh:mm:ss, then optional fraction, then optional zone (Z, +hh:mm, -hhmm).
    private static int ClockTimeEnd(ReadOnlySpan<byte> s, int i)
    {
        var j = i + 8;
        if (j + 1 < s.Length && s[j] is (byte)'.' or (byte)',' && IsDigit(s[j + 1]))
        {
            j++;
            while (j < s.Length && IsDigit(s[j]) && j - i < 20)
            {
                j++;
            }
        }

        if (At(s, j, 'Z'))
        {
            return j + 1;
        }

        if (j < s.Length && s[j] is (byte)'+' or (byte)'-' && IsDigits(s, j + 1, 2))
        {
            if (At(s, j + 3, ':') && IsDigits(s, j + 4, 2))
            {
                return j + 6;
            }

            return IsDigits(s, j + 3, 2) ? j + 5 : j;
        }

        return j;
    }

    private static bool IsDigits(ReadOnlySpan<byte> s, int i, int count)
    {
        if (i + count > s.Length)
        {
            return false;
        }

        for (var k = i; k < i + count; k++)
        {
            if (!IsDigit(s[k]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool At(ReadOnlySpan<byte> s, int i, char c) => i < s.Length && s[i] == c;

    internal static int SkipBlanks(ReadOnlySpan<byte> s, int i)
    {
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
        {
            i++;
        }

        return i;
    }

    internal static int SkipSpaces(ReadOnlySpan<byte> s, int i, int max)
    {
        var j = i;
        while (j < s.Length && s[j] == ' ' && j - i < max)
        {
            j++;
        }

        return j;
    }

    internal static bool IsTokenStart(ReadOnlySpan<byte> s, int i) => i == 0 || !IsWordByte(s[i - 1]);

    // Numbers continue across '.', and across '-' or ':' after a digit or letter, so "2026-11-24", "10:00:01",
    // "v10.0.19045" and UUID groups are never re-scanned from their middle.
    internal static bool IsNumericStart(ReadOnlySpan<byte> s, int i)
    {
        if (i == 0)
        {
            return true;
        }

        var previous = s[i - 1];
        return previous != '.'
            && !(i > 1 && previous == '-' && IsAlphanumeric(s[i - 2]))
            && !(i > 1 && previous == ':' && IsDigit(s[i - 2]));
    }

    internal static bool EndsToken(ReadOnlySpan<byte> s, int end) =>
        end == s.Length
        || (!IsWordByte(s[end])
            && !(s[end] is (byte)':' or (byte)'-' or (byte)'.' && end + 1 < s.Length && IsAlphanumeric(s[end + 1])));

    internal static bool EndsNumber(ReadOnlySpan<byte> s, int end) =>
        end == s.Length
        || (!IsDigit(s[end]) && !(s[end] == '.' && end + 1 < s.Length && IsDigit(s[end + 1])));

    internal static bool HasDigitAndLetter(ReadOnlySpan<byte> s) =>
        s.IndexOfAnyInRange((byte)'0', (byte)'9') >= 0 && s.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0;

    internal static bool IsValueStop(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)',' or (byte)';' or (byte)'&';

    internal static bool IsQuote(byte b) => b is (byte)'"' or (byte)'\'' or (byte)'`';

    internal static bool IsJoiner(byte b) => b is (byte)'_' or (byte)'-';

    internal static bool IsEmailLocalByte(byte b) => IsAlphanumeric(b) || b is (byte)'.' or (byte)'_' or (byte)'%' or (byte)'+' or (byte)'-';

    internal static bool IsWordByte(byte b) => IsAlphanumeric(b) || b == '_';

    internal static bool IsAlphanumeric(byte b) => IsDigit(b) || IsLetter(b);

    internal static bool IsLetter(byte b) => IsLower(b) || IsUpper(b);

    internal static bool IsLower(byte b) => b is >= (byte)'a' and <= (byte)'z';

    internal static bool IsUpper(byte b) => b is >= (byte)'A' and <= (byte)'Z';

    internal static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    internal static bool IsHex(byte b) => IsDigit(b) || (b | 0x20) is >= 'a' and <= 'f';
}
