using System.Buffers.Text;
using System.Diagnostics;
using TelemetryGateway.LoadTest.Mqtt;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>
/// The "cloud" consumer: subscribes at QoS 1 on the upstream broker and, for every output, takes the latency
/// (receive time − the <c>ts</c> the device stamped) and a 64-bit fingerprint of topic + payload to spot redeliveries.
/// Outputs with <c>ts</c> 0 are warm-up probes and are only counted as such. A <c>telemetry.v1.EnvelopeBatch</c> (the
/// gateway's batches, published on <c>{prefix}/{purpose}/batch</c>; this MQTT 3.1.1 client sees no content type) is
/// taken apart into its elements, each an output with its own <c>ts</c>, fingerprint and latency.
/// </summary>
/// <remarks><see cref="OnPublish"/> runs on the client's single receive loop; the counters the scenario polls meanwhile
/// are read with <see cref="Volatile"/>; the latency list is read only after <see cref="StopAsync"/>.</remarks>
internal sealed class CloudSubscriber : IPublishReceiver
{
    /// <summary>Width of one bucket of <see cref="ArrivalsPerBucket"/>.</summary>
    public static readonly TimeSpan BucketWidth = TimeSpan.FromMilliseconds(100);

    private readonly List<int> _arrivalsPerBucket = [];
    private readonly List<long> _latenciesMicros;
    private readonly HashSet<ulong> _fingerprints;
    private MinimalMqttClient? _client;
    private MeasurementClock? _clock;
    private long _received;
    private long _publishes;
    private long _probes;
    private long _duplicates;
    private long _withoutTs;
    private long _lastReceivedTimestamp;

    public CloudSubscriber(int expectedOutputs)
    {
        _latenciesMicros = new List<long>(expectedOutputs);
        _fingerprints = new HashSet<ulong>(expectedOutputs);
    }

    /// <summary>Outputs received since the measurement started, redeliveries included.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Publishes received since the measurement started (a batch is one publish of many outputs).</summary>
    public long Publishes => Volatile.Read(ref _publishes);

    /// <summary>Warm-up probe outputs received.</summary>
    public long Probes => Volatile.Read(ref _probes);

    /// <summary>Outputs whose topic and payload were identical to an earlier one (at-least-once redeliveries).</summary>
    public long Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Outputs without a readable <c>"ts"</c>: counted, but no latency.</summary>
    public long WithoutTs => Volatile.Read(ref _withoutTs);

    public long LastReceivedTimestamp => Volatile.Read(ref _lastReceivedTimestamp);

    public string? ConnectionError => _client?.ConnectionError;

    public IReadOnlyList<long> LatenciesMicros => _latenciesMicros;

    /// <summary>Outputs received in each <see cref="BucketWidth"/> since the measurement started (read after <see cref="StopAsync"/>).</summary>
    public IReadOnlyList<int> ArrivalsPerBucket => _arrivalsPerBucket;

    public async Task ConnectAsync(System.Net.IPEndPoint endpoint, string topicFilter, CancellationToken cancellationToken)
    {
        _client = await MinimalMqttClient.ConnectAsync(endpoint, "cloud-subscriber", 1, this, TimeSpan.FromSeconds(10), cancellationToken);
        await _client.SubscribeAsync(topicFilter, 1, TimeSpan.FromSeconds(10));
    }

    /// <summary>From now on outputs count, and their latency is taken against <paramref name="clock"/>.</summary>
    public void StartMeasurement(MeasurementClock clock) => Volatile.Write(ref _clock, clock);

    public async Task StopAsync()
    {
        if (_client is not null)
        {
            await _client.DisconnectAsync();
            await _client.DisposeAsync();
        }
    }

    public void OnPublish(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, long receivedTimestamp)
    {
        if (Volatile.Read(ref _clock) is not null)
        {
            Interlocked.Increment(ref _publishes);
        }
        if (!topic.EndsWith("/batch"u8))
        {
            OnOutput(topic, payload, receivedTimestamp);
            return;
        }
        var rest = payload;
        while (NextElement(ref rest, out var element))
        {
            OnOutput(topic, element, receivedTimestamp);
        }
    }

    /// <summary>
    /// The next element of an <c>EnvelopeBatch</c> (field 1, length-delimited: tag 0x0A, varint length, the Envelope's
    /// bytes), read by hand: this project takes no package. False at the end or on anything else.
    /// </summary>
    internal static bool NextElement(ref ReadOnlySpan<byte> batch, out ReadOnlySpan<byte> element)
    {
        element = default;
        if (batch.Length < 2 || batch[0] != 0x0A)
        {
            return false;
        }
        var length = 0L;
        var at = 1;
        for (var shift = 0; ; shift += 7)
        {
            if (at >= batch.Length || shift > 28)
            {
                return false;
            }
            var b = batch[at++];
            length |= (long)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }
        }
        if (length > batch.Length - at)
        {
            return false;
        }
        element = batch.Slice(at, (int)length);
        batch = batch[(at + (int)length)..];
        return true;
    }

    private void OnOutput(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, long receivedTimestamp)
    {
        var ts = ReadTs(payload);
        var clock = Volatile.Read(ref _clock);
        if (ts == 0 || clock is null)
        {
            Interlocked.Increment(ref _probes);
            return;
        }
        if (!_fingerprints.Add(Fingerprint(topic, payload)))
        {
            Interlocked.Increment(ref _duplicates);
        }
        var receivedMicros = clock.ToMicros(receivedTimestamp);
        var bucket = (int)Math.Min(receivedMicros / (long)BucketWidth.TotalMicroseconds, 100_000);
        while (_arrivalsPerBucket.Count <= bucket)
        {
            _arrivalsPerBucket.Add(0);
        }
        _arrivalsPerBucket[bucket]++;
        if (ts > 0)
        {
            _latenciesMicros.Add(receivedMicros - ts);
        }
        else
        {
            Interlocked.Increment(ref _withoutTs);
        }
        Volatile.Write(ref _lastReceivedTimestamp, receivedTimestamp);
        Interlocked.Increment(ref _received);
    }

    /// <summary>The integer after the first <c>"ts":</c>; -1 when there is none.</summary>
    internal static long ReadTs(ReadOnlySpan<byte> payload)
    {
        var at = payload.IndexOf("\"ts\""u8);
        if (at < 0)
        {
            return -1;
        }
        var rest = payload[(at + 4)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
        {
            return -1;
        }
        rest = rest[1..].TrimStart(" \t\r\n"u8);
        return Utf8Parser.TryParse(rest, out long value, out _) && value >= 0 ? value : -1;
    }

    /// <summary>FNV-1a 64 over topic, a separator and payload.</summary>
    private static ulong Fingerprint(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload)
    {
        const ulong prime = 1_099_511_628_211;
        var hash = 14_695_981_039_346_656_037;
        foreach (var b in topic)
        {
            hash = (hash ^ b) * prime;
        }
        hash = (hash ^ 0xFF) * prime;
        foreach (var b in payload)
        {
            hash = (hash ^ b) * prime;
        }
        return hash;
    }

    /// <summary>Time since the measurement started of <paramref name="timestamp"/>.</summary>
    public static TimeSpan Since(MeasurementClock clock, long timestamp) => Stopwatch.GetElapsedTime(clock.OriginTimestamp, timestamp);
}
