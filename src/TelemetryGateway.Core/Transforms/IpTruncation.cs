using System.Diagnostics.CodeAnalysis;

namespace TelemetryGateway.Core.Transforms;

/// <summary>
/// Truncates IP addresses (bare, with a port, or as the host of a URL) to a network prefix, so a
/// forwarded value locates a network rather than a single subscriber. Works on UTF-8 spans and
/// never allocates, because it runs for every message on the hot path.
/// </summary>
internal static class IpTruncation
{
    public const int DefaultIpv4PrefixLength = 24;
    public const int DefaultIpv6PrefixLength = 48;

    // Enough for "[" + "::ffff:255.255.255.255" or a full 39-character IPv6 address + "]".
    private const int MaxHostTextLength = 48;

    private const int MaxPortDigits = 5;

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private static ReadOnlySpan<byte> MappedPrefix => "::ffff:"u8;

    private static ReadOnlySpan<byte> SchemeSeparator => "://"u8;

    /// <summary>Longest output for any input of length n is at most n + 48 bytes; callers size destination accordingly.</summary>
    public static bool TryTruncate(ReadOnlySpan<byte> value, int ipv4PrefixLength, int ipv6PrefixLength, Span<byte> destination, out int written)
    {
        if ((uint)ipv4PrefixLength > 32)
        {
            ThrowPrefixOutOfRange(nameof(ipv4PrefixLength));
        }

        if ((uint)ipv6PrefixLength > 128)
        {
            ThrowPrefixOutOfRange(nameof(ipv6PrefixLength));
        }

        written = 0;
        if (value.IsEmpty)
        {
            return false;
        }

        var position = 0;
        var schemeLength = value.IndexOf(SchemeSeparator);
        var ok = schemeLength >= 0
            ? TryWriteUrl(value, schemeLength, ipv4PrefixLength, ipv6PrefixLength, destination, ref position)
            : TryWriteHostAndPort(value, allowBareIpv6: true, ipv4PrefixLength, ipv6PrefixLength, destination, ref position);
        written = ok ? position : 0;
        return ok;
    }

    /// <summary>True when value parses as a bare IPv4 or IPv6 address (used by the text redactor).</summary>
    public static bool IsIpAddress(ReadOnlySpan<byte> value) =>
        TryParseIpv4(value, out _) || TryParseIpv6WithZone(value, out _);

    private static bool TryWriteUrl(ReadOnlySpan<byte> value, int schemeLength, int ipv4PrefixLength, int ipv6PrefixLength, Span<byte> destination, ref int position)
    {
        // A real URL never contains spaces or control characters; refusing them keeps "hidden" text out of the path we copy.
        if (!IsScheme(value[..schemeLength]) || value.IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || value.Contains((byte)0x7F))
        {
            return false;
        }

        var rest = value[(schemeLength + SchemeSeparator.Length)..];
        var authorityLength = rest.IndexOfAny((byte)'/', (byte)'?', (byte)'#');
        var authority = authorityLength < 0 ? rest : rest[..authorityLength];
        var afterAuthority = authorityLength < 0 ? [] : rest[authorityLength..];

        // Userinfo can carry credentials, so it is dropped rather than copied.
        var at = authority.LastIndexOf((byte)'@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..];
        }

        if (authority.IsEmpty)
        {
            return false;
        }

        // Query and fragment can carry tokens or identifiers, so only the path survives.
        var path = afterAuthority;
        if (path.IsEmpty || path[0] != '/')
        {
            path = [];
        }
        else
        {
            var pathLength = path.IndexOfAny((byte)'?', (byte)'#');
            if (pathLength >= 0)
            {
                path = path[..pathLength];
            }
        }

        return TryAppend(value[..(schemeLength + SchemeSeparator.Length)], destination, ref position)
            && TryWriteHostAndPort(authority, allowBareIpv6: false, ipv4PrefixLength, ipv6PrefixLength, destination, ref position)
            && TryAppend(path, destination, ref position);
    }

    private static bool TryWriteHostAndPort(ReadOnlySpan<byte> value, bool allowBareIpv6, int ipv4PrefixLength, int ipv6PrefixLength, Span<byte> destination, ref int position)
    {
        Span<byte> host = stackalloc byte[MaxHostTextLength];
        int hostLength;
        ReadOnlySpan<byte> port;

        if (value[0] == '[')
        {
            var close = value.IndexOf((byte)']');
            if (close < 0 || !TryParseIpv6WithZone(value[1..close], out var address))
            {
                return false;
            }

            port = value[(close + 1)..];
            if (!port.IsEmpty && !IsPortSuffix(port))
            {
                return false;
            }

            host[0] = (byte)'[';
            hostLength = 1 + FormatIpv6(TruncateIpv6(address, ipv4PrefixLength, ipv6PrefixLength), host[1..]);
            host[hostLength++] = (byte)']';
        }
        else
        {
            var colon = value.IndexOf((byte)':');

            // Exactly one colon means "IPv4:port"; an IPv6 address always has at least two.
            if (colon >= 0 && value[(colon + 1)..].IndexOf((byte)':') < 0)
            {
                port = value[colon..];
                if (!TryParseIpv4(value[..colon], out var ipv4) || !IsPortSuffix(port))
                {
                    return false;
                }

                hostLength = FormatIpv4(ipv4 & Ipv4Mask(ipv4PrefixLength), host);
            }
            else if (TryParseIpv4(value, out var ipv4))
            {
                port = [];
                hostLength = FormatIpv4(ipv4 & Ipv4Mask(ipv4PrefixLength), host);
            }
            else if (allowBareIpv6 && TryParseIpv6WithZone(value, out var ipv6))
            {
                port = [];
                hostLength = FormatIpv6(TruncateIpv6(ipv6, ipv4PrefixLength, ipv6PrefixLength), host);
            }
            else
            {
                return false;
            }
        }

        return TryAppend(host[..hostLength], destination, ref position)
            && TryAppend(port, destination, ref position);
    }

    private static bool TryAppend(ReadOnlySpan<byte> source, Span<byte> destination, ref int position)
    {
        if (!source.TryCopyTo(destination[position..]))
        {
            return false;
        }

        position += source.Length;
        return true;
    }

    private static bool IsScheme(ReadOnlySpan<byte> scheme)
    {
        if (scheme.IsEmpty || !char.IsAsciiLetter((char)scheme[0]))
        {
            return false;
        }

        foreach (var b in scheme)
        {
            if (!char.IsAsciiLetterOrDigit((char)b) && b != '+' && b != '-' && b != '.')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPortSuffix(ReadOnlySpan<byte> value)
    {
        var digits = value[1..];
        return value[0] == ':'
            && digits.Length is >= 1 and <= MaxPortDigits
            && digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
    }

    private static bool TryParseIpv4(ReadOnlySpan<byte> value, out uint address)
    {
        address = 0;
        var parts = 0;
        var i = 0;
        while (true)
        {
            var octet = 0;
            var digits = 0;
            while (i < value.Length && char.IsAsciiDigit((char)value[i]))
            {
                if (++digits > 3)
                {
                    return false;
                }

                octet = (octet * 10) + (value[i] - '0');
                i++;
            }

            if (digits == 0 || octet > 255)
            {
                return false;
            }

            address = (address << 8) | (uint)octet;
            parts++;
            if (i == value.Length)
            {
                return parts == 4;
            }

            if (value[i] != '.' || parts == 4)
            {
                return false;
            }

            i++;
        }
    }

    private static bool TryParseIpv6WithZone(ReadOnlySpan<byte> value, out UInt128 address)
    {
        // The zone only names a local interface; it is validated and then dropped.
        var percent = value.IndexOf((byte)'%');
        if (percent >= 0)
        {
            var zone = value[(percent + 1)..];
            if (zone.IsEmpty || !IsZone(zone))
            {
                address = UInt128.Zero;
                return false;
            }

            value = value[..percent];
        }

        return TryParseIpv6(value, out address);
    }

    private static bool IsZone(ReadOnlySpan<byte> zone)
    {
        foreach (var b in zone)
        {
            if (!char.IsAsciiLetterOrDigit((char)b) && b != '-' && b != '.' && b != '_' && b != '~' && b != '%')
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseIpv6(ReadOnlySpan<byte> value, out UInt128 address)
    {
        address = UInt128.Zero;
        if (value.Length < 2)
        {
            return false;
        }

        Span<ushort> groups = stackalloc ushort[8];
        var count = 0;
        var compressAt = -1;
        var i = 0;

        if (value[0] == ':')
        {
            if (value[1] != ':')
            {
                return false;
            }

            compressAt = 0;
            i = 2;
        }

        while (i < value.Length)
        {
            var start = i;
            var group = 0;
            while (i < value.Length && char.IsAsciiHexDigit((char)value[i]))
            {
                if (i - start < 4)
                {
                    group = (group << 4) | HexValue(value[i]);
                }

                i++;
            }

            if (i == start)
            {
                return false;
            }

            if (i < value.Length && value[i] == '.')
            {
                // An embedded IPv4 tail fills the last two groups and must end the text.
                if (count > 6 || !TryParseIpv4(value[start..], out var ipv4))
                {
                    return false;
                }

                groups[count++] = (ushort)(ipv4 >> 16);
                groups[count++] = (ushort)ipv4;
                break;
            }

            if (i - start > 4 || count == 8)
            {
                return false;
            }

            groups[count++] = (ushort)group;
            if (i == value.Length)
            {
                break;
            }

            if (value[i] != ':')
            {
                return false;
            }

            i++;
            if (i < value.Length && value[i] == ':')
            {
                if (compressAt >= 0)
                {
                    return false;
                }

                compressAt = count;
                i++;
            }
            else if (i == value.Length)
            {
                return false;
            }
        }

        if (compressAt < 0 ? count != 8 : count > 7)
        {
            return false;
        }

        if (compressAt >= 0)
        {
            var tail = count - compressAt;
            groups[compressAt..count].CopyTo(groups[(8 - tail)..]);
            groups[compressAt..(8 - tail)].Clear();
        }

        // Built as two 64-bit halves: shifting a UInt128 costs a call per group.
        ulong upper = 0;
        ulong lower = 0;
        for (var g = 0; g < 4; g++)
        {
            upper = (upper << 16) | groups[g];
            lower = (lower << 16) | groups[g + 4];
        }

        address = new UInt128(upper, lower);
        return true;
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private static uint Ipv4Mask(int prefixLength) =>
        prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);

    private static bool IsIpv4Mapped(UInt128 address) => address >> 32 == 0xFFFF;

    private static UInt128 TruncateIpv6(UInt128 address, int ipv4PrefixLength, int ipv6PrefixLength)
    {
        // An IPv4-mapped address is really an IPv4 address, so it gets the IPv4 prefix.
        if (IsIpv4Mapped(address))
        {
            return (address & ~(UInt128)uint.MaxValue) | ((uint)address & Ipv4Mask(ipv4PrefixLength));
        }

        var mask = ipv6PrefixLength == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - ipv6PrefixLength);
        return address & mask;
    }

    private static int FormatIpv4(uint address, Span<byte> destination)
    {
        var position = 0;
        for (var shift = 24; shift >= 0; shift -= 8)
        {
            var octet = (address >> shift) & 0xFF;
            if (octet >= 100)
            {
                destination[position++] = (byte)('0' + (octet / 100));
            }

            if (octet >= 10)
            {
                destination[position++] = (byte)('0' + (octet / 10 % 10));
            }

            destination[position++] = (byte)('0' + (octet % 10));
            if (shift > 0)
            {
                destination[position++] = (byte)'.';
            }
        }

        return position;
    }

    // RFC 5952: lowercase, no leading zeros, the longest (first on ties) run of two or more zero groups as "::".
    private static int FormatIpv6(UInt128 address, Span<byte> destination)
    {
        if (IsIpv4Mapped(address))
        {
            MappedPrefix.CopyTo(destination);
            return MappedPrefix.Length + FormatIpv4((uint)address, destination[MappedPrefix.Length..]);
        }

        Span<ushort> groups = stackalloc ushort[8];
        var upper = (ulong)(address >> 64);
        var lower = (ulong)address;
        for (var i = 0; i < 4; i++)
        {
            groups[i] = (ushort)(upper >> (48 - (16 * i)));
            groups[i + 4] = (ushort)(lower >> (48 - (16 * i)));
        }

        var runStart = -1;
        var runLength = 1;
        for (var i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }

            var end = i;
            while (end < 8 && groups[end] == 0)
            {
                end++;
            }

            if (end - i > runLength)
            {
                runStart = i;
                runLength = end - i;
            }

            i = end;
        }

        var position = 0;
        for (var i = 0; i < 8; i++)
        {
            if (i == runStart)
            {
                destination[position++] = (byte)':';
                destination[position++] = (byte)':';
                i += runLength - 1;
                continue;
            }

            if (position > 0 && destination[position - 1] != ':')
            {
                destination[position++] = (byte)':';
            }

            int group = groups[i];
            var shift = 12;
            while (shift > 0 && group >> shift == 0)
            {
                shift -= 4;
            }

            for (; shift >= 0; shift -= 4)
            {
                destination[position++] = HexDigits[(group >> shift) & 0xF];
            }
        }

        return position;
    }

    [DoesNotReturn]
    private static void ThrowPrefixOutOfRange(string parameterName) =>
        throw new ArgumentOutOfRangeException(parameterName, "Prefix length is outside the range allowed for the address family.");
}
