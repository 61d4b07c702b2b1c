using System.Buffers;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Transforms;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Tests.Support;

namespace TelemetryGateway.Mqtt.Tests.Quarantine;

/// <summary>The quarantine record: no payload, a digest under its own key, bounded files, warnings that do not flood.</summary>
public sealed class QuarantineLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-quarantine-").FullName;
    private readonly RecordingLogger<QuarantineLog> _logger = new();

    [Fact]
    public async Task A_record_holds_stream_pattern_reason_size_and_digest_but_no_payload()
    {
        var payload = Encoding.UTF8.GetBytes("{\"sn\":\"SERIALCANARY0001\",\"wifi\":{\"password\":\"canary-pw\"");
        await using (var quarantine = Open(QuarantineOptions.Default))
        {
            quarantine.Record(ShippedPolicy.Stream("network"), QuarantineReason.MalformedJson, new ReadOnlySequence<byte>(payload));
        }

        var line = Assert.Single(await File.ReadAllLinesAsync(QuarantineLog.PathOf(_directory, 0)));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("network", json.RootElement.GetProperty("stream").GetString());
        Assert.Equal("dt/anker_power/{pn}/{sn}/network", json.RootElement.GetProperty("topicFilter").GetString());
        Assert.Equal("malformed-json", json.RootElement.GetProperty("reason").GetString());
        Assert.Equal(payload.Length, json.RootElement.GetProperty("size").GetInt32());
        Assert.DoesNotContain("SERIALCANARY0001", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("canary-pw", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SERIALCANARY0001", _logger.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_digest_is_keyed_apart_from_pseudonyms_of_the_same_bytes()
    {
        var value = Encoding.UTF8.GetBytes("SERIALCANARY0001");
        await using (var quarantine = Open(QuarantineOptions.Default))
        {
            quarantine.Record(ShippedPolicy.Stream("status"), QuarantineReason.NotAnObject, new ReadOnlySequence<byte>(value));
            quarantine.Record(ShippedPolicy.Stream("status"), QuarantineReason.NotAnObject, new ReadOnlySequence<byte>(value));
        }
        using var pseudonymizer = new Pseudonymizer(ShippedPolicy.Key);
        var pseudonym = new byte[pseudonymizer.Length];
        pseudonymizer.Write(value, pseudonym);

        var digests = (await File.ReadAllLinesAsync(QuarantineLog.PathOf(_directory, 0)))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("digest").GetString()!)
            .ToList();
        var pseudonymText = Encoding.UTF8.GetString(pseudonym);
        // "{key id}.{hex}": neither the key id nor the keyed hash may match the pseudonym's.
        Assert.Equal(digests[0], digests[1]);
        Assert.NotEqual(pseudonymText.Split('.')[0], digests[0].Split('.')[0]);
        Assert.NotEqual(pseudonymText.Split('.')[1], digests[0].Split('.')[1]);
    }

    [Fact]
    public async Task The_record_file_rotates_by_size_and_keeps_only_the_configured_number_of_files()
    {
        var options = new QuarantineOptions { MaxFileBytes = 4096, MaxFiles = 3 };
        await using (var quarantine = Open(options))
        {
            for (var i = 0; i < 200; i++)
            {
                quarantine.Record(ShippedPolicy.Stream("status"), QuarantineReason.MalformedJson, new ReadOnlySequence<byte>([(byte)i]));
            }
        }

        var files = Directory.GetFiles(_directory, "quarantine*.ndjson");
        Assert.Equal(3, files.Length);
        Assert.All(files, file => Assert.InRange(new FileInfo(file).Length, 1, options.MaxFileBytes));
        Assert.True(File.Exists(QuarantineLog.PathOf(_directory, 2)));
    }

    [Fact]
    public async Task Warnings_are_limited_to_one_per_stream_and_reason_per_interval_with_a_count_of_the_rest()
    {
        await using (var quarantine = Open(new QuarantineOptions { WarningInterval = TimeSpan.FromMilliseconds(300) }))
        {
            for (var i = 0; i < 50; i++)
            {
                quarantine.Record(ShippedPolicy.Stream("status"), QuarantineReason.MalformedJson, new ReadOnlySequence<byte>([1]));
            }
            quarantine.Record(ShippedPolicy.Stream("network"), QuarantineReason.MalformedJson, new ReadOnlySequence<byte>([1]));
            await Task.Delay(400);
            quarantine.Record(ShippedPolicy.Stream("status"), QuarantineReason.MalformedJson, new ReadOnlySequence<byte>([1]));
            Assert.Equal(52, quarantine.Count);
        }

        Assert.Equal(3, _logger.Count(EventIds.Quarantined));
        var summary = Assert.Single(_logger.Entries, e => e.EventId == EventIds.QuarantineWarningsSuppressed);
        Assert.StartsWith("49 more status messages", summary.Message, StringComparison.Ordinal);
        Assert.Equal(52, (await File.ReadAllLinesAsync(QuarantineLog.PathOf(_directory, 0))).Length);
    }

    private QuarantineLog Open(QuarantineOptions options) => new(_directory, ShippedPolicy.Key, _logger, TimeProvider.System, options);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
