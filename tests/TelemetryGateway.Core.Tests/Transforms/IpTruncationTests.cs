using System.Text;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Transforms;

public sealed class IpTruncationTests
{
    private const int Ipv4Default = IpTruncation.DefaultIpv4PrefixLength;
    private const int Ipv6Default = IpTruncation.DefaultIpv6PrefixLength;

    [Fact]
    public void Truncates_ipv4_to_24_bit_prefix()
    {
        Assert.Equal("81.2.69.0", Truncate("81.2.69.142"));
    }

    [Theory]
    [InlineData(20, "81.2.64.0")]
    [InlineData(25, "81.2.69.128")]
    [InlineData(16, "81.2.0.0")]
    [InlineData(8, "81.0.0.0")]
    [InlineData(0, "0.0.0.0")]
    [InlineData(32, "81.2.69.142")]
    public void Truncates_ipv4_to_other_prefix_lengths(int prefixLength, string expected)
    {
        Assert.Equal(expected, Truncate("81.2.69.142", prefixLength, Ipv6Default));
    }

    [Fact]
    public void Accepts_ipv4_octets_with_leading_zeros()
    {
        Assert.Equal("81.2.69.0", Truncate("081.002.069.142"));
    }

    [Fact]
    public void Truncates_ipv6_to_48_bit_prefix_in_canonical_form()
    {
        Assert.Equal("2001:218:85a3::", Truncate("2001:218:85a3::8a2e:370:7334"));
    }

    [Theory]
    [InlineData("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1")]
    [InlineData("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]
    [InlineData("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0")]
    [InlineData("::", "::")]
    [InlineData("::1", "::1")]
    [InlineData("1::", "1::")]
    [InlineData("ABCD:EF01::", "abcd:ef01::")]
    public void Writes_ipv6_in_rfc5952_canonical_form(string input, string expected)
    {
        Assert.Equal(expected, Truncate(input, Ipv4Default, 128));
    }

    [Theory]
    [InlineData(64, "2001:db8:85a3:1234::")]
    [InlineData(56, "2001:db8:85a3:1200::")]
    [InlineData(52, "2001:db8:85a3:1000::")]
    [InlineData(32, "2001:db8::")]
    [InlineData(0, "::")]
    public void Truncates_ipv6_to_other_prefix_lengths(int prefixLength, string expected)
    {
        Assert.Equal(expected, Truncate("2001:db8:85a3:1234:5678::1", Ipv4Default, prefixLength));
    }

    [Theory]
    [InlineData("::ffff:81.2.69.142", 24, "::ffff:81.2.69.0")]
    [InlineData("::FFFF:5102:458e", 24, "::ffff:81.2.69.0")]
    [InlineData("0:0:0:0:0:ffff:81.2.69.142", 16, "::ffff:81.2.0.0")]
    public void Truncates_ipv4_mapped_ipv6_with_ipv4_prefix(string input, int ipv4PrefixLength, string expected)
    {
        Assert.Equal(expected, Truncate(input, ipv4PrefixLength, Ipv6Default));
    }

    [Fact]
    public void Parses_ipv6_with_embedded_ipv4_tail()
    {
        Assert.Equal("64:ff9b::c000:221", Truncate("64:ff9b::192.0.2.33", Ipv4Default, 128));
    }

    [Theory]
    [InlineData("fe80::1%eth0", 128, "fe80::1")]
    [InlineData("fe80::1%eth0", 48, "fe80::")]
    [InlineData("[fe80::1%25eth0]:80", 48, "[fe80::]:80")]
    public void Drops_ipv6_zone_id(string input, int ipv6PrefixLength, string expected)
    {
        Assert.Equal(expected, Truncate(input, Ipv4Default, ipv6PrefixLength));
    }

    [Fact]
    public void Truncates_ipv4_with_port()
    {
        Assert.Equal("81.2.69.0:8883", Truncate("81.2.69.142:8883"));
    }

    [Theory]
    [InlineData("[2001:218:85a3::8a2e:370:7334]:443", "[2001:218:85a3::]:443")]
    [InlineData("[2001:218:85a3::8a2e:370:7334]", "[2001:218:85a3::]")]
    [InlineData("[::ffff:81.2.69.142]:1", "[::ffff:81.2.69.0]:1")]
    public void Truncates_bracketed_ipv6_keeping_brackets_and_port(string input, string expected)
    {
        Assert.Equal(expected, Truncate(input));
    }

    [Theory]
    [InlineData("https://81.2.69.142:8443/api/v1", "https://81.2.69.0:8443/api/v1")]
    [InlineData("http://81.2.69.142", "http://81.2.69.0")]
    [InlineData("mqtt+ssl://[2001:218:85a3::8a2e:370:7334]:8883/telemetry", "mqtt+ssl://[2001:218:85a3::]:8883/telemetry")]
    [InlineData("coap://[2001:218:85a3::1]/", "coap://[2001:218:85a3::]/")]
    public void Truncates_ip_host_of_url(string input, string expected)
    {
        Assert.Equal(expected, Truncate(input));
    }

    [Theory]
    [InlineData("https://user:secret@81.2.69.142:8443/path?token=abc#frag", "https://81.2.69.0:8443/path")]
    [InlineData("http://81.2.69.142?device=42", "http://81.2.69.0")]
    [InlineData("http://81.2.69.142/a#b", "http://81.2.69.0/a")]
    [InlineData("ws://admin@[2001:218:85a3::1]/x?y", "ws://[2001:218:85a3::]/x")]
    public void Drops_userinfo_query_and_fragment_from_url(string input, string expected)
    {
        Assert.Equal(expected, Truncate(input));
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("1.2.3")]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("::1::2")]
    [InlineData("example.com:80")]
    [InlineData("http://example.com/x")]
    [InlineData("")]
    [InlineData(" 1.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("+1.2.3.4")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.4:")]
    [InlineData("1.2.3.4:123456")]
    [InlineData("1.2.3.4:80a")]
    [InlineData("[1.2.3.4]")]
    [InlineData("[::1")]
    [InlineData("[::1]:")]
    [InlineData("[::1]x")]
    [InlineData(":1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1::2:3:4:5:6:7:8")]
    [InlineData("1:")]
    [InlineData("12345::1")]
    [InlineData("g::1")]
    [InlineData("fe80::1%")]
    [InlineData("fe80::1%eth 0")]
    [InlineData("::ffff:1.2.3")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("http://::1/")]
    [InlineData("http://[::1/")]
    [InlineData("http://user@/x")]
    [InlineData("http://81.2.69.142:/x")]
    [InlineData("http://81.2.69.142/a b")]
    [InlineData("1http://81.2.69.142/")]
    [InlineData("://81.2.69.142/")]
    public void Rejects_values_that_are_not_ip_addresses(string input)
    {
        Assert.Null(Truncate(input));
    }

    [Fact]
    public void Returns_false_when_destination_is_too_small()
    {
        Span<byte> destination = stackalloc byte[8];
        Assert.False(IpTruncation.TryTruncate("81.2.69.142"u8, Ipv4Default, Ipv6Default, destination, out var written));
        Assert.Equal(0, written);
    }

    [Theory]
    [InlineData(-1, Ipv6Default, "ipv4PrefixLength")]
    [InlineData(33, Ipv6Default, "ipv4PrefixLength")]
    [InlineData(Ipv4Default, -1, "ipv6PrefixLength")]
    [InlineData(Ipv4Default, 129, "ipv6PrefixLength")]
    public void Throws_for_prefix_length_out_of_range_without_echoing_it(int ipv4PrefixLength, int ipv6PrefixLength, string parameterName)
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(
            () => IpTruncation.TryTruncate("81.2.69.142"u8, ipv4PrefixLength, ipv6PrefixLength, new byte[64], out _));
        Assert.Equal(parameterName, exception.ParamName);
        Assert.Null(exception.ActualValue);
    }

    [Theory]
    [InlineData("81.2.69.142")]
    [InlineData("2001:218:85a3::8a2e:370:7334")]
    [InlineData("::ffff:1.2.3.4")]
    [InlineData("fe80::1%eth0")]
    public void Recognises_bare_ip_addresses(string input)
    {
        Assert.True(IpTruncation.IsIpAddress(Encoding.UTF8.GetBytes(input)));
    }

    [Theory]
    [InlineData("81.2.69.142:8883")]
    [InlineData("[::1]")]
    [InlineData("http://81.2.69.142/")]
    [InlineData("1.2.3")]
    [InlineData("hello")]
    [InlineData("")]
    public void Does_not_recognise_other_values_as_ip_addresses(string input)
    {
        Assert.False(IpTruncation.IsIpAddress(Encoding.UTF8.GetBytes(input)));
    }

    [Fact]
    public void Does_not_allocate()
    {
        var destination = new byte[128];
        var ok = true;
        var allocated = Allocations.SteadyState(() => ok &= RunAllForms(destination), rounds: 1000, warmUpRounds: 1);
        Assert.True(ok);
        Assert.Equal(0, allocated);
    }

    private static bool RunAllForms(Span<byte> destination) =>
        IpTruncation.TryTruncate("81.2.69.142"u8, Ipv4Default, Ipv6Default, destination, out _)
        & IpTruncation.TryTruncate("2001:218:85a3::8a2e:370:7334"u8, Ipv4Default, Ipv6Default, destination, out _)
        & IpTruncation.TryTruncate("::ffff:81.2.69.142"u8, Ipv4Default, Ipv6Default, destination, out _)
        & IpTruncation.TryTruncate("[fe80::1%eth0]:443"u8, Ipv4Default, Ipv6Default, destination, out _)
        & IpTruncation.TryTruncate("https://u:p@81.2.69.142:8443/path?q=1#f"u8, Ipv4Default, Ipv6Default, destination, out _)
        & !IpTruncation.TryTruncate("http://example.com/x"u8, Ipv4Default, Ipv6Default, destination, out _)
        & IpTruncation.IsIpAddress("2001:db8::1"u8);

    private static string? Truncate(string input, int ipv4PrefixLength = Ipv4Default, int ipv6PrefixLength = Ipv6Default)
    {
        var value = Encoding.UTF8.GetBytes(input);
        var destination = new byte[value.Length + 48];
        return IpTruncation.TryTruncate(value, ipv4PrefixLength, ipv6PrefixLength, destination, out var written)
            ? Encoding.UTF8.GetString(destination, 0, written)
            : null;
    }
}
