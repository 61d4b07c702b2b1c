using System.Text;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Text;

namespace TelemetryGateway.Core.Tests.Text;

/// <summary>
/// The places a learned value may start, found 32 bytes at a time, are exactly those a byte-by-byte reading finds: on
/// random text across block boundaries, from every start offset, in both modes. All values are made up.
/// </summary>
public sealed class WordStartsTests
{
    // Bytes chosen to make words of every length, escapes, blanks and bytes beyond ASCII.
    private static readonly byte[] Alphabet = "aZ9_ -%\\\"=:\n.\u00e9"u8.ToArray();

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void Finds_the_same_places_as_a_byte_by_byte_reading(int seed, bool everyOtherByte)
    {
        var random = new Random(seed);
        for (var round = 0; round < 40; round++)
        {
            var text = new byte[random.Next(0, 200)];
            for (var i = 0; i < text.Length; i++)
            {
                text[i] = Alphabet[random.Next(Alphabet.Length)];
            }

            for (var from = 0; from <= text.Length; from++)
            {
                Assert.Equal(Reference(text, from, everyOtherByte), Found(text, from, everyOtherByte));
            }
        }
    }

    [Fact]
    public void A_word_running_through_the_start_does_not_start_there()
    {
        var text = "Gartenhaus ok"u8.ToArray();

        Assert.Equal([(11, false)], Found(text, 3, everyOtherByte: false));
        Assert.Equal([(0, false), (11, false)], Found(text, 0, everyOtherByte: false));
    }

    [Theory]
    [InlineData("_home_net")]
    [InlineData("(Garten)")]
    [InlineData("\u00dcnterwelt-5G")]
    public void A_site_value_that_begins_with_another_byte_is_found(string value)
    {
        var store = new LearnedSecrets();
        Assert.True(store.Learn("device-a", LearnedClass.WifiName, Encoding.UTF8.GetBytes(value)));
        var text = Encoding.UTF8.GetBytes($"{new string('x', 40)} joined {value} at 10:00\n");

        var at = store.Current.Find(text, 0, out var length, out var kind);

        Assert.Equal(48, at);
        Assert.Equal(Encoding.UTF8.GetByteCount(value), length);
        Assert.Equal(LearnedClass.WifiName, kind);
    }

    [Theory]
    [InlineData("psk=\"_home_net\"\nlater: _home_net dropped\n", "psk=[secret]\nlater: [secret] dropped\n")]
    [InlineData("ssid=\"(Garten)\"\nreconnect (Garten) in 5 s\n", "ssid=[ssid]\nreconnect [ssid] in 5 s\n")]
    public void A_log_value_that_begins_with_another_byte_is_removed_where_it_recurs(string log, string expected)
    {
        Assert.Equal(expected, LogScrubbing.ScrubEverySegmentation(log));
    }

    private static List<(int Position, bool Other)> Found(byte[] text, int from, bool everyOtherByte)
    {
        var found = new List<(int, bool)>();
        var starts = new WordStarts(text, from, everyOtherByte);
        while (starts.MoveNext(out var position, out var other))
        {
            found.Add((position, other));
        }

        return found;
    }

    private static List<(int Position, bool Other)> Reference(byte[] text, int from, bool everyOtherByte)
    {
        var found = new List<(int, bool)>();
        for (var i = from; i < text.Length; i++)
        {
            var isWord = IsWord(text[i]);
            if (isWord && (i == 0 || !IsWord(text[i - 1])))
            {
                found.Add((i, false));
            }
            else if (!isWord && (everyOtherByte || text[i] is (byte)'%' or (byte)'\\'))
            {
                found.Add((i, true));
            }
        }

        return found;
    }

    private static bool IsWord(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z';
}
