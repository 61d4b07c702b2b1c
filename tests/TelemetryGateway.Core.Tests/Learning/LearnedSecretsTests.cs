using System.Buffers;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Learning;

/// <summary>
/// Values a message reveals (a network message's Wi-Fi name and passphrase, a commissioning record's contact data) are
/// remembered and removed from every later output, whatever syntax carries them there.
/// </summary>
public sealed class LearnedSecretsTests
{
    private const string NetworkTopic = "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/network";
    private const string LogTopic = "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/log";
    private const string Ssid = "Maple Court 5G";
    private const string Passphrase = "tulip-Reed-93";

    private static readonly string NetworkMessage =
        $$$"""{"sn":"WK1DEGZD8PCF32ER","wifi":{"ssid":"{{{Ssid}}}","password":"{{{Passphrase}}}","bssid":"BE:31:20:1E:69:FE","rssi":-61}}""";

    // Lines no marker announces: the value alone, in another case, in a query string, JSON-escaped, percent-encoded.
    private static readonly string[] BareLogLines =
    [
        "2026-11-24T10:00:01Z I ui: banner MAPLE COURT 5G shown",
        "2026-11-24T10:00:02Z I http: GET /setup?net=Maple+Court+5G&k=tulip-Reed-93",
        "2026-11-24T10:00:03Z I cfg: {\"n\":\"maple court 5g\",\"k\":\"Tulip-reed-93\"}",
        "2026-11-24T10:00:04Z I dump: %22Maple%20Court%205G%22",
        "2026-11-24T10:00:05Z I soc=87% temp=31.5C",
    ];

    [Theory]
    [InlineData(Segmentation.SingleSegment)]
    [InlineData(Segmentation.MultiSegment)]
    [InlineData(Segmentation.OneBytePerSegment)]
    public void A_value_a_network_message_revealed_is_removed_from_a_later_log_in_any_form(Segmentation segmentation)
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        Assert.False(minimizer.Minimize(NetworkTopic, Segments.Split(Encoding.UTF8.GetBytes(NetworkMessage), segmentation)).IsQuarantined);
        Assert.Equal(3, store.Count);

        var result = minimizer.Minimize(LogTopic, Segments.Split(Encoding.UTF8.GetBytes(string.Join('\n', BareLogLines)), segmentation));

        Assert.NotEmpty(result.Outputs.ToArray());
        foreach (var output in result.Outputs.Span)
        {
            var text = Encoding.UTF8.GetString(output.Payload.Span);
            Assert.DoesNotContain("maple", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("tulip", text, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("[ssid]", text, StringComparison.Ordinal);
            Assert.Contains("[secret]", text, StringComparison.Ordinal);
            Assert.Contains("soc=87% temp=31.5C", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Ordinary_text_holding_a_learned_value_inside_a_longer_word_is_not_mangled()
    {
        var store = new LearnedSecrets();
        Assert.True(store.Learn("dev-1", LearnedClass.WifiSecret, "Reed-93x"u8));
        Assert.True(store.Learn("dev-1", LearnedClass.WifiName, "Garden"u8));
        const string Text = "Gardening mode on; Reed-93xy kept; xGarden kept; Garden-2 replaced; (Garden) replaced";

        var scrubbed = Scrub(store, Text, jsonStrings: false);

        Assert.Equal("Gardening mode on; Reed-93xy kept; xGarden kept; [ssid]-2 replaced; ([ssid]) replaced", scrubbed);
    }

    [Theory]
    [InlineData("Home5")]
    [InlineData("12345678")]
    [InlineData("[ssid]")]
    [InlineData("two\nlines")]
    public void Short_digit_only_and_marker_values_are_not_learned(string value)
    {
        var store = new LearnedSecrets();

        Assert.False(store.Learn("dev-1", LearnedClass.WifiName, Encoding.UTF8.GetBytes(value)));

        Assert.Equal(0, store.Count);
        Assert.Equal("a Home5 and 12345678 line", Scrub(store, "a Home5 and 12345678 line", jsonStrings: false));
    }

    [Fact]
    public void Short_and_digit_only_values_of_a_message_are_not_learned_but_longer_ones_are()
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);

        minimizer.Minimize(NetworkTopic, new ReadOnlySequence<byte>("""{"sn":"WK1DEGZD8PCF32ER","wifi":{"ssid":"Home5","password":"12345678"}}"""u8.ToArray()));
        Assert.Equal(0, store.Count);

        minimizer.Minimize(NetworkTopic, new ReadOnlySequence<byte>("""{"sn":"WK1DEGZD8PCF32ER","wifi":{"ssid":"Home55","password":"1234567a"}}"""u8.ToArray()));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void Contact_data_of_a_commissioning_record_is_learned_by_its_names()
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        var record = Support.Corpus.Messages.First(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal));

        minimizer.Minimize(record.Topic, new ReadOnlySequence<byte>(record.Payload));

        using var document = JsonDocument.Parse(record.Payload);
        var owner = document.RootElement.GetProperty("owner");
        var text = string.Join(" | ",
            owner.GetProperty("name").GetString(), owner.GetProperty("email").GetString(), owner.GetProperty("phone").GetString(),
            owner.GetProperty("address").GetProperty("street").GetString(), document.RootElement.GetProperty("wifi").GetProperty("ssid").GetString(),
            "company Solar", "country DE");
        Assert.Equal("[name] | [email] | [phone] | [address] | [ssid] | company Solar | country DE", Scrub(store, text, jsonStrings: false));
    }

    [Fact]
    public void A_JSON_output_loses_the_value_inside_its_strings_and_stays_valid_JSON()
    {
        var store = new LearnedSecrets();
        Assert.True(store.Learn("dev-1", LearnedClass.WifiName, "Café \"Lumière\""u8));
        Assert.True(store.Learn("dev-1", LearnedClass.WifiSecret, "tulip-Reed-93"u8));
        // As a device writes it, and as System.Text.Json's default encoder writes it.
        const string Json = """{"note":"joined Caf\u00e9 \"Lumi\u00E8re\" then caf\u00e9 \u0022lumi\u00e8re\u0022","tulip-Reed-93":1,"n":7}""";

        var scrubbed = Scrub(store, Json, jsonStrings: true);

        using var document = JsonDocument.Parse(scrubbed);
        Assert.Equal("joined [ssid] then [ssid]", document.RootElement.GetProperty("note").GetString());
        Assert.True(document.RootElement.TryGetProperty("[secret]", out _));
        Assert.Equal(7, document.RootElement.GetProperty("n").GetInt32());
    }

    [Fact]
    public void A_value_printed_in_hex_or_base64_is_removed_too()
    {
        var store = new LearnedSecrets();
        Assert.True(store.Learn("dev-1", LearnedClass.WifiName, "Maple Court 5G"u8));
        var hex = Convert.ToHexString(Encoding.UTF8.GetBytes("Maple Court 5G"));
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("Maple Court 5G"));
        var text = $"wps_reg {hex.ToLowerInvariant()} 1234; profile /var/lib/iwd/={hex}.psk; b64={base64} ok";

        Assert.Equal("wps_reg [ssid] 1234; profile /var/lib/iwd/=[ssid].psk; b64=[ssid]= ok", Scrub(store, text, jsonStrings: false));
    }

    [Fact]
    public void The_least_recently_seen_values_go_first_when_over_the_bound()
    {
        var time = new ManualTime();
        var store = new LearnedSecrets(new LearnedSecretsLimits(3, 1024, TimeSpan.FromDays(30)), time);
        foreach (var value in new[] { "alpha-net", "bravo-net", "charlie-net" })
        {
            store.Learn("dev-1", LearnedClass.WifiName, Encoding.UTF8.GetBytes(value));
            time.Advance(TimeSpan.FromMinutes(1));
        }

        // Seen again: now the most recent.
        store.Learn("dev-1", LearnedClass.WifiName, "ALPHA-NET"u8);
        time.Advance(TimeSpan.FromMinutes(1));
        store.Learn("dev-1", LearnedClass.WifiName, "delta-net"u8);

        Assert.Equal(3, store.Count);
        Assert.Equal("[ssid] bravo-net [ssid] [ssid]", Scrub(store, "alpha-net bravo-net charlie-net delta-net", jsonStrings: false));
    }

    [Fact]
    public void The_byte_bound_holds_too()
    {
        var store = new LearnedSecrets(new LearnedSecretsLimits(100, 20, TimeSpan.FromDays(30)));
        store.Learn("dev-1", LearnedClass.WifiName, "aaaaaaaaaa"u8);
        store.Learn("dev-1", LearnedClass.WifiName, "bbbbbbbbbb"u8);
        store.Learn("dev-1", LearnedClass.WifiName, "cccccccccc"u8);

        Assert.Equal(2, store.Count);
    }

    [Fact]
    public void A_value_not_seen_within_the_expiry_is_forgotten()
    {
        var time = new ManualTime();
        var store = new LearnedSecrets(new LearnedSecretsLimits(10, 1024, TimeSpan.FromDays(30)), time);
        store.Learn("dev-1", LearnedClass.WifiName, "old-network"u8);
        time.Advance(TimeSpan.FromDays(20));
        store.Learn("dev-1", LearnedClass.WifiName, "new-network"u8);
        time.Advance(TimeSpan.FromDays(11));

        Assert.Equal(1, store.Expire());

        Assert.Equal("old-network [ssid]", Scrub(store, "old-network new-network", jsonStrings: false));
    }

    [Fact]
    public void Forgetting_a_device_removes_what_only_it_revealed()
    {
        var store = new LearnedSecrets();
        store.Learn("dev-1", LearnedClass.WifiName, "shared-network"u8);
        store.Learn("dev-2", LearnedClass.WifiName, "shared-network"u8);
        store.Learn("dev-1", LearnedClass.WifiSecret, "only-dev1-secret"u8);

        Assert.Equal(1, store.Forget("dev-1"));

        Assert.Equal("[ssid] only-dev1-secret", Scrub(store, "shared-network only-dev1-secret", jsonStrings: false));
        Assert.Equal(1, store.Forget("dev-2"));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Another_device_revealing_a_known_value_changes_who_revealed_it_but_not_the_matcher()
    {
        var store = new LearnedSecrets();
        store.Learn("dev-1", LearnedClass.WifiName, "shared-network"u8);
        var matcher = store.Current;
        var version = store.Version;

        Assert.True(store.Learn("dev-2", LearnedClass.WifiName, "SHARED-network"u8));
        Assert.Same(matcher, store.Current);
        Assert.True(store.Version > version);
        Assert.Equal(["dev-1", "dev-2"], store.Current.Entries.Single().Devices);

        // Forgetting one of them keeps the value for the other, still without a new matcher.
        Assert.Equal(0, store.Forget("dev-1"));
        Assert.Same(matcher, store.Current);
        Assert.Equal(["dev-2"], store.Current.Entries.Single().Devices);
    }

    [Fact]
    public void Over_the_count_bound_the_least_recently_seen_value_goes_whatever_order_it_was_learned_in()
    {
        var time = new ManualTime();
        var store = new LearnedSecrets(new LearnedSecretsLimits(3, 64 * 1024, TimeSpan.FromDays(30)), time);
        store.Learn("dev", LearnedClass.WifiName, "network-one"u8);
        time.Advance(TimeSpan.FromSeconds(1));
        store.Learn("dev", LearnedClass.WifiName, "network-two"u8);
        time.Advance(TimeSpan.FromSeconds(1));
        store.Learn("dev", LearnedClass.WifiName, "network-three"u8);
        time.Advance(TimeSpan.FromSeconds(1));
        _ = store.Current;
        store.Learn("dev", LearnedClass.WifiName, "network-one"u8);
        time.Advance(TimeSpan.FromSeconds(1));

        store.Learn("dev", LearnedClass.WifiName, "network-four"u8);

        Assert.Equal("[ssid] network-two [ssid] [ssid]", Scrub(store, "network-one network-two network-three network-four", jsonStrings: false));
    }

    [Fact]
    public void Values_survive_a_restart_encrypted_in_a_private_file()
    {
        using var directory = new TemporaryDirectory();
        var path = Path.Combine(directory.Path, LearnedSecretsFile.FileName);
        var store = new LearnedSecrets();
        store.Learn("dev-1", LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        store.Learn("dev-2", LearnedClass.Email, "li.wei@example.net"u8);

        new LearnedSecretsFile(path, TestPolicies.Key).Save(store);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(-1, bytes.AsSpan().IndexOf("tulip-reed-93"u8));
        Assert.Equal(-1, bytes.AsSpan().IndexOf("dev-1"u8));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        var restored = new LearnedSecrets();
        Assert.Equal(LearnedSecretsFile.LoadResult.Loaded, new LearnedSecretsFile(path, TestPolicies.Key).Load(restored));
        Assert.Equal("[secret] [email]", Scrub(restored, "tulip-Reed-93 li.wei@example.net", jsonStrings: false));
        Assert.Equal(1, restored.Forget("dev-2"));
    }

    [Fact]
    public void A_file_of_another_key_or_a_corrupt_one_is_discarded_not_fatal()
    {
        using var directory = new TemporaryDirectory();
        var path = Path.Combine(directory.Path, LearnedSecretsFile.FileName);
        var store = new LearnedSecrets();
        store.Learn("dev-1", LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        new LearnedSecretsFile(path, TestPolicies.Key).Save(store);

        var otherKey = PseudonymizationKey.FromBytes(new byte[32]);
        var restored = new LearnedSecrets();
        Assert.Equal(LearnedSecretsFile.LoadResult.Discarded, new LearnedSecretsFile(path, otherKey).Load(restored));
        Assert.False(File.Exists(path));
        Assert.Equal(0, restored.Count);

        new LearnedSecretsFile(path, TestPolicies.Key).Save(store);
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x55;
        File.WriteAllBytes(path, bytes);
        Assert.Equal(LearnedSecretsFile.LoadResult.Discarded, new LearnedSecretsFile(path, TestPolicies.Key).Load(restored));

        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal(LearnedSecretsFile.LoadResult.Discarded, new LearnedSecretsFile(path, TestPolicies.Key).Load(restored));
        Assert.Equal(LearnedSecretsFile.LoadResult.Missing, new LearnedSecretsFile(path, TestPolicies.Key).Load(restored));
    }

    [Fact]
    public void With_a_thousand_values_learned_minimizing_allocates_nothing_in_steady_state()
    {
        var store = new LearnedSecrets();
        for (var i = 0; i < 1000; i++)
        {
            store.Learn($"dev-{i % 50}", (LearnedClass)(i % 7), Encoding.UTF8.GetBytes($"learned-value-{i:D4}-x"));
        }

        Assert.Equal(1000, store.Count);
        var inputs = Support.Corpus.Messages.Where(m => m.Id.EndsWith("-status", StringComparison.Ordinal) || m.Id.EndsWith("-network", StringComparison.Ordinal)
                || m.Id.EndsWith("-log", StringComparison.Ordinal))
            .Select(m => (m.Topic, Payload: new ReadOnlySequence<byte>(m.Payload))).ToArray();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        void MinimizeAll()
        {
            foreach (var (topic, payload) in inputs)
            {
                Assert.False(minimizer.Minimize(topic, payload).IsQuarantined);
            }
        }

        MinimizeAll();
        Assert.Equal(0, Allocations.SteadyState(MinimizeAll));
    }

    private static string Scrub(LearnedSecrets store, string text, bool jsonStrings)
    {
        var output = new ArrayBufferWriter<byte>();
        var input = Encoding.UTF8.GetBytes(text);
        return store.Current.Scrub(input, output, jsonStrings) == 0 ? text : Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

/// <summary>A SOLIX binary's Wi-Fi name (a field no purpose receives) is learned too, and removed where it recurs.</summary>
public sealed class LearnedSolixValuesTests
{
    [Fact]
    public void The_wifi_name_of_a_SOLIX_message_is_removed_from_a_later_log()
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        var binary = Solix.SolixMessages.Binary(0x0407, Solix.SolixMessages.StringField(0xA2, "CUTUTT17MUSXAJ4R"), Solix.SolixMessages.StringField(0xA3, "Maple Court 5G"));

        var solix = minimizer.Minimize("dt/anker_power/A17C0/CUTUTT17MUSXAJ4R/param_info", new ReadOnlySequence<byte>(Solix.SolixMessages.Envelope(binary)));

        Assert.False(solix.IsQuarantined);
        Assert.Equal(1, store.Count);
        var log = minimizer.Minimize("dt/anker_power/A17C0/CUTUTT17MUSXAJ4R/log", new ReadOnlySequence<byte>("I ui: banner Maple Court 5G shown\n"u8.ToArray()));
        Assert.All(log.Outputs.ToArray(), output => Assert.Equal("I ui: banner [ssid] shown\n", Encoding.UTF8.GetString(output.Payload.Span)));
    }
}

/// <summary>Bodies (HTTP uploads) go through the same learned-values step as messages: they teach and are scrubbed.</summary>
public sealed class LearnedBodyValuesTests
{
    [Fact]
    public void A_commissioning_body_teaches_and_a_streamed_log_body_is_scrubbed_block_by_block()
    {
        var store = new LearnedSecrets();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key, [], store);
        var commissioning = TestPolicies.Default.Streams.Single(s => s.Name == "commissioning");
        var record = """{"device":{"sn":"SN1","pn":"A17C0"},"owner":{"name":"Kim Lee-Park","email":"kim.lp@example.org"},"wifi":{"ssid":"Maple Court 5G","password":"tulip-Reed-93"}}"""u8.ToArray();

        Assert.Null(minimizer.BeginBody(commissioning, commissioning.Purposes[0], "SN1"));
        using (var output = new TelemetryGateway.Core.Buffers.PooledBufferWriter())
        {
            Assert.Equal(QuarantineReason.None, minimizer.MinimizeBody(new ReadOnlySequence<byte>(record), isFinalBlock: true, output));
        }

        Assert.Equal(4, store.Count);
        var log = TestPolicies.Default.Streams.Single(s => s.Name == "log");
        var text = "I ui: banner Maple Court 5G shown\nI mail: sent to kim.lp@example.org for Kim Lee-Park\n"u8.ToArray();
        Assert.Null(minimizer.BeginBody(log, log.Purposes[0], "SN1"));
        using var scrubbed = new TelemetryGateway.Core.Buffers.PooledBufferWriter();
        for (var offset = 0; offset < text.Length; offset += 7)
        {
            var length = Math.Min(7, text.Length - offset);
            Assert.Equal(QuarantineReason.None, minimizer.MinimizeBody(new ReadOnlySequence<byte>(text, offset, length), offset + length == text.Length, scrubbed));
        }

        Assert.Equal("I ui: banner [ssid] shown\nI mail: sent to [email] for [name]\n", Encoding.UTF8.GetString(scrubbed.WrittenMemory.Span));
    }
}
