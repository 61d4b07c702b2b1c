using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>The streaming behaviour of <see cref="LogScrubber"/>: segments, blocks, serials, limits, bad input, allocation.</summary>
public sealed class LogScrubberTests
{
    private const string Serial = "QX7ZT0N4KD2M9B1C";

    private const string Log =
        "2026-11-24T10:00:01Z I wifi: connecting to ssid=\"Home Net 5G\"\n"
        + "2026-11-24T10:00:02Z D wpa: wpa_passphrase=correct-horse-77 key_mgmt=WPA-PSK\n"
        + "2026-11-24T10:00:03Z I net: lease 203.0.113.77 gw [2001:db8:4a2c:1::1]:53 dns ::ffff:198.51.100.23\n"
        + "2026-11-24T10:00:04Z I cloud: owner m.musterfrau+solar@mail.example.org device QX7ZT0N4KD2M9B1C\n"
        + "2026-11-24T10:00:05Z W bms: cell 3 voltage 3.41V temp 21.5C soc 76% err 0x1F3A\n"
        + "2026-11-24T10:00:06Z I gps: fix 47.376887, 8.541694 alt 408m\n"
        + "2026-11-24T10:00:07Z I ble: peer 3c-71-bf-0a-9e-41 rssi -67 support +49 30 1234567\n"
        + "2026-11-24T10:00:08Z I ota: fw 1.2.3 ok in 2.5 s, sn=qx7zt0n4kd2m9b1c";

    private static readonly string[] Personal =
    [
        "Home Net 5G", "correct-horse-77", "203.0.113.77", "2001:db8:4a2c:1::1", "198.51.100.23",
        "m.musterfrau+solar@mail.example.org", Serial, "47.376887", "8.541694", "3c-71-bf-0a-9e-41", "1234567",
    ];

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Removes_every_personal_value_of_a_log(Segmentation segmentation)
    {
        var output = LogScrubbing.Scrub(Log, segmentation, Serial);

        foreach (var value in Personal)
        {
            Assert.DoesNotContain(value, output, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Keeps_the_non_personal_parts_of_a_log(Segmentation segmentation)
    {
        var output = LogScrubbing.Scrub(Log, segmentation, Serial);

        foreach (var kept in new[] { "2026-11-24T10:00:05Z W bms: cell 3 voltage 3.41V temp 21.5C soc 76% err 0x1F3A\n", "key_mgmt=WPA-PSK", "fw 1.2.3 ok in 2.5 s", " alt 408m", "rssi -67" })
        {
            Assert.Contains(kept, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Output_is_the_same_on_every_segmentation_and_block_size(Segmentation segmentation)
    {
        var single = LogScrubbing.Scrub(Log, Segmentation.SingleSegment, Serial);

        Assert.Equal(single, LogScrubbing.Scrub(Log, segmentation, Serial));
        foreach (var blockLength in new[] { 1, 2, 7, 64, 100 })
        {
            Assert.Equal(single, LogScrubbing.ScrubInBlocks(Log, blockLength, Serial));
        }
    }

    [Fact]
    public void Output_is_the_same_for_random_segment_and_block_sizes()
    {
        var rules = LogScrubRules.Default with { MaxLineLength = 256 };
        var log = Log + "\n" + new string('x', 300) + " psk=hunter2\n" + string.Concat(Enumerable.Repeat("lorem ipsum ", 30)) + "ssid=\"My Net\"\n" + Log;
        var bytes = Encoding.UTF8.GetBytes(log);
        var expected = LogScrubbing.Scrub(bytes, Segmentation.SingleSegment, Serial, rules, out _);
        var random = new Random(4711);

        for (var round = 0; round < 50; round++)
        {
            using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
            using var output = new PooledBufferWriter();
            scrubber.Begin(Encoding.UTF8.GetBytes(Serial), rules);
            var offset = 0;
            while (offset < bytes.Length)
            {
                var length = Math.Min(random.Next(1, 200), bytes.Length - offset);
                var block = Segments.Split(bytes.AsSpan(offset, length), random.Next(2) == 0 ? Segmentation.MultiSegment : Segmentation.SingleSegment);
                offset += length;
                Assert.Equal(QuarantineReason.None, scrubber.Process(block, offset == bytes.Length, output));
            }

            Assert.Equal(expected, Encoding.UTF8.GetString(output.WrittenMemory.Span));
        }
    }

    [Fact]
    public void Pseudonymizes_every_occurrence_of_the_serial_in_any_case()
    {
        var output = LogScrubbing.Scrub("device QX7ZT0N4KD2M9B1C sn=qx7zt0n4kd2m9b1c file=/log/QX7ZT0N4KD2M9B1C_boot.txt", serial: Serial);

        var pseudonym = LogScrubbing.PseudonymOf(Serial);
        Assert.Equal($"device {pseudonym} sn={pseudonym} file=/log/{pseudonym}_boot.txt", output);
    }

    [Fact]
    public void Drops_the_serial_as_a_device_marker()
    {
        var rules = LogScrubRules.Default with { Serial = SerialHandling.Drop };

        Assert.Equal("boot [device] ok", LogScrubbing.Scrub("boot QX7ZT0N4KD2M9B1C ok", serial: Serial, rules: rules));
    }

    [Fact]
    public void Keeps_the_serial_when_the_rules_keep_it()
    {
        var rules = LogScrubRules.Default with { Serial = SerialHandling.Keep };

        Assert.Equal("boot QX7ZT0N4KD2M9B1C ok", LogScrubbing.Scrub("boot QX7ZT0N4KD2M9B1C ok", serial: Serial, rules: rules));
    }

    [Fact]
    public void Matches_a_short_serial_only_as_a_whole_word()
    {
        var rules = LogScrubRules.Default with { Serial = SerialHandling.Drop };

        Assert.Equal("[device] is here, ab12x stays, xab12 too", LogScrubbing.Scrub("ab12 is here, ab12x stays, xab12 too", serial: "AB12", rules: rules));
    }

    [Fact]
    public void Treats_nothing_as_the_serial_when_it_is_empty()
    {
        Assert.Equal("boot ok", LogScrubbing.Scrub("boot ok", serial: ""));
    }

    [Fact]
    public void Counts_what_was_scrubbed_by_kind()
    {
        LogScrubbing.Scrub(Encoding.UTF8.GetBytes(Log), Segmentation.SingleSegment, Serial, null, out var counts);

        Assert.Equal(1, counts.Secrets);
        Assert.Equal(1, counts.WifiNames);
        Assert.Equal(1, counts.EmailAddresses);
        Assert.Equal(1, counts.PhoneNumbers);
        Assert.Equal(1, counts.MacAddresses);
        Assert.Equal(3, counts.IpAddresses);
        Assert.Equal(2, counts.Coordinates);
        Assert.Equal(2, counts.Serials);
        Assert.Equal(0, counts.TruncatedLines);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Quarantines_invalid_utf8(Segmentation segmentation)
    {
        var log = Encoding.UTF8.GetBytes("I boot ok\nW bad ").Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes(" byte\n")).ToArray();

        LogScrubbing.Run(log, segmentation, "", null, out var reason, out _);

        Assert.Equal(QuarantineReason.InvalidUtf8, reason);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Quarantines_a_utf8_sequence_cut_off_at_the_end(Segmentation segmentation)
    {
        var log = Encoding.UTF8.GetBytes("I temp ok \u00b0").SkipLast(1).ToArray();

        LogScrubbing.Run(log, segmentation, "", null, out var reason, out _);

        Assert.Equal(QuarantineReason.InvalidUtf8, reason);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Accepts_multibyte_characters_split_across_segments(Segmentation segmentation)
    {
        const string log = "Störung: Wärmepumpe 🔥 läuft (東京), psk=geheimÄ\n";

        Assert.Equal("Störung: Wärmepumpe 🔥 läuft (東京), psk=[secret]\n", LogScrubbing.Scrub(log, segmentation));
    }

    [Fact]
    public void Keeps_reporting_the_quarantine_until_the_next_log()
    {
        using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
        using var output = new PooledBufferWriter();
        scrubber.Begin([], LogScrubRules.Default);

        Assert.Equal(QuarantineReason.InvalidUtf8, scrubber.Process(new ReadOnlySequence<byte>([0xFF, (byte)'\n']), false, output));
        Assert.Equal(QuarantineReason.InvalidUtf8, scrubber.Process(new ReadOnlySequence<byte>("ok\n"u8.ToArray()), true, output));

        scrubber.Begin([], LogScrubRules.Default);
        Assert.Equal(QuarantineReason.None, scrubber.Process(new ReadOnlySequence<byte>("ok\n"u8.ToArray()), true, output));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Cuts_an_over_long_line_at_a_word_boundary_and_discards_its_rest(Segmentation segmentation)
    {
        var rules = LogScrubRules.Default with { MaxLineLength = 256 };
        var words = string.Concat(Enumerable.Repeat("lorem ipsum ", 40));
        var log = "I first line\n" + words + "psk=hunter2 tail\nI next line\n";

        var output = LogScrubbing.Scrub(Encoding.UTF8.GetBytes(log), segmentation, "", rules, out var counts);

        var lines = output.Split('\n');
        Assert.Equal("I first line", lines[0]);
        Assert.EndsWith(" [truncated]", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("lorem ipsum lorem", lines[1], StringComparison.Ordinal);
        Assert.True(lines[1].Length <= 256 + "[truncated]".Length);
        Assert.Equal("I next line", lines[2]);
        Assert.DoesNotContain("hunter2", output, StringComparison.Ordinal);
        Assert.Equal(1, counts.TruncatedLines);
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Replaces_an_over_long_line_without_word_boundary_by_a_marker(Segmentation segmentation)
    {
        var rules = LogScrubRules.Default with { MaxLineLength = 256 };
        var log = "I a\n" + new string('7', 1000) + " 192.0.2.1\nI b";

        var output = LogScrubbing.Scrub(Encoding.UTF8.GetBytes(log), segmentation, "", rules, out _);

        Assert.Equal("I a\n[truncated]\nI b", output);
    }

    [Fact]
    public void Never_cuts_an_over_long_line_inside_a_phone_number()
    {
        var rules = LogScrubRules.Default with { MaxLineLength = 256 };
        var log = new string('x', 240) + " call +49 30 1234567 now\n";

        var output = LogScrubbing.Scrub(Encoding.UTF8.GetBytes(log), Segmentation.SingleSegment, "", rules, out _);

        Assert.DoesNotContain("+49", output, StringComparison.Ordinal);
        Assert.DoesNotContain("1234567", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Holds_constant_memory_for_an_endless_line()
    {
        var rules = LogScrubRules.Default with { MaxLineLength = 1024 };
        using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
        using var output = new PooledBufferWriter();
        scrubber.Begin([], rules);
        var block = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("word ", 2000))));

        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(QuarantineReason.None, scrubber.Process(block, false, output));
        }

        Assert.Equal(QuarantineReason.None, scrubber.Process(ReadOnlySequence<byte>.Empty, true, output));
        Assert.True(output.WrittenMemory.Length < 2048);
        Assert.Equal(1, scrubber.Counts.TruncatedLines);
    }

    [Fact]
    public void Refuses_to_process_before_a_log_begins()
    {
        using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
        using var output = new PooledBufferWriter();

        Assert.Throws<InvalidOperationException>(() => scrubber.Process(new ReadOnlySequence<byte>("ok\n"u8.ToArray()), true, output));
    }

    [Fact]
    public void Rejects_invalid_rules_with_every_error()
    {
        var rules = LogScrubRules.Default with { Ipv4PrefixLength = 33, Ipv6PrefixLength = -1, CoordinateDecimals = 9, MaxLineLength = 10 };

        Assert.Equal(4, rules.Validate().Count);
        using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
        Assert.Throws<ArgumentException>(() => scrubber.Begin([], rules));
    }

    [Fact]
    public void Default_rules_are_valid()
    {
        Assert.Empty(LogScrubRules.Default.Validate());
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void Allocates_nothing_in_steady_state(Segmentation segmentation)
    {
        var input = Segments.Split(Encoding.UTF8.GetBytes(Log + "\n" + Log), segmentation);
        var serial = Encoding.UTF8.GetBytes(Serial);
        using var scrubber = new LogScrubber(LogScrubbing.Pseudonymizer);
        using var output = new PooledBufferWriter();
        var quarantined = 0;
        var allocated = Allocations.SteadyState(() => quarantined += ScrubOnce(scrubber, output, serial, input), rounds: 200, warmUpRounds: 100);
        Assert.Equal(0, quarantined);
        Assert.Equal(0, allocated);
    }

    private static int ScrubOnce(LogScrubber scrubber, PooledBufferWriter output, byte[] serial, ReadOnlySequence<byte> input)
    {
        output.Reset();
        scrubber.Begin(serial, LogScrubRules.Default);
        return scrubber.Process(input, isFinalBlock: true, output) == QuarantineReason.None ? 0 : 1;
    }
}
