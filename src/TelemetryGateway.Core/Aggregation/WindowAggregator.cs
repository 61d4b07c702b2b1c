using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>What one window of one aggregate entry did, counted (never values): for the records and the tests.</summary>
public sealed record AggregateWindowReport(int Groups, int Released, int Suppressed, long Folded, long GroupOverflow, long DeviceOverflow);

/// <summary>One released group of one window: its output topic, payload and window, to be delivered like any output.</summary>
public sealed record AggregateRelease(StreamPurpose Entry, string Topic, byte[] Payload, DateTimeOffset WindowStart, DateTimeOffset WindowEnd);

/// <summary>
/// The state of one aggregate purpose entry (issue 18): tumbling windows aligned to the Unix epoch on
/// <see cref="Time"/>; per window, groups keyed by the <c>groupBy</c> values, and in each group every distinct device
/// once, under a keyed digest (HMAC-SHA-256 under a random key drawn for the window and cleared when it ends), so no
/// identifier is kept. A device contributes its latest value of each metric in the window (clipped), whatever it
/// reported before: a device reporting a thousand times counts once, with what it last said. Thread-safe (one lock;
/// folding a message costs a digest, two dictionary look-ups and no allocation once its group and device are known).
/// At most two windows exist: the open one and, until released, the one it replaced; a window that ended and is not
/// yet released when a third begins is released with the next <see cref="ReleaseEnded"/> call all the same.
/// </summary>
public sealed class WindowAggregator
{
    private const int MaxClosedWindows = 4;
    private const int MaxGroupKeyChars = 512;
    private readonly Lock _lock = new();
    private readonly Queue<Window> _closed = new();
    private Window? _open;
    private long _closedOverflow;
    private readonly char[] _groupKey = new char[MaxGroupKeyChars];
    private readonly byte[] _deviceBytes = new byte[256];
    private readonly double[] _values;

    internal WindowAggregator(StreamPurpose entry, AggregateRules rules)
    {
        Entry = entry;
        Rules = rules;
        _values = new double[rules.MetricArray.Length];
    }

    public StreamPurpose Entry { get; }
    public AggregateRules Rules { get; }

    /// <summary>The clock windows follow; settable before the first message (tests use a fake clock).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Where the noise comes from; a seeded source is for tests only.</summary>
    public INoiseSource Noise { get; set; } = CryptographicNoiseSource.Instance;

    /// <summary>Windows that ended while two others were still waiting to be released (dropped, never released).</summary>
    public long ClosedWindowOverflow => Interlocked.Read(ref _closedOverflow);

    /// <summary>True when no window is open or waiting to be released (a replaced policy's aggregator may then be let go).</summary>
    public bool IsIdle
    {
        get
        {
            lock (_lock)
            {
                return _open is null && _closed.Count == 0;
            }
        }
    }

    /// <summary>The start of the window <paramref name="now"/> falls in.</summary>
    public DateTimeOffset WindowStart(DateTimeOffset now)
    {
        var ticks = now.UtcTicks - (now.UtcTicks % Rules.Window.Ticks);
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary>
    /// Folds one message of <paramref name="device"/> into the open window: its group from <paramref name="captures"/>
    /// of <paramref name="topic"/> and the payload's fields, its metrics from the payload's top-level numeric fields.
    /// Returns false when the message was not folded: no device, a group value missing, or a bound reached (counted).
    /// </summary>
    internal bool Fold(ReadOnlySpan<char> topic, ReadOnlySpan<Range> captures, ReadOnlySpan<char> device, in ReadOnlySequence<byte> payload, int maxDepth)
    {
        if (device.IsEmpty)
        {
            return false;
        }
        lock (_lock)
        {
            var window = OpenWindow();
            if (!ReadPayload(topic, captures, payload, maxDepth, out var keyLength))
            {
                return false;
            }
            var lookup = window.Groups.GetAlternateLookup<ReadOnlySpan<char>>();
            var key = _groupKey.AsSpan(0, keyLength);
            if (!lookup.TryGetValue(key, out var group))
            {
                if (window.Groups.Count >= Rules.MaxGroups)
                {
                    window.GroupOverflow++;
                    return false;
                }
                group = new Group(key.ToString(), Rules.MetricArray.Length);
                window.Groups.Add(group.Key, group);
            }
            var digest = Digest(window, device);
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(group.Devices, digest, out var known);
            if (!known)
            {
                if (window.Devices >= Rules.MaxDevices)
                {
                    group.Devices.Remove(digest);
                    window.DeviceOverflow++;
                    return false;
                }
                window.Devices++;
                slot = group.AddDevice();
            }
            group.Set(slot, _values);
            window.Folded++;
            return true;
        }
    }

    /// <summary>Releases every window that ended by <see cref="Time"/>'s now: each group that meets k, as an output.</summary>
    public IReadOnlyList<AggregateRelease> ReleaseEnded(List<AggregateWindowReport>? reports = null) => Release(all: false, reports);

    /// <summary>At shutdown: releases every window, the open one too (a group that meets k is released, the others dropped).</summary>
    public IReadOnlyList<AggregateRelease> ReleaseAll(List<AggregateWindowReport>? reports = null) => Release(all: true, reports);

    private List<AggregateRelease> Release(bool all, List<AggregateWindowReport>? reports)
    {
        var windows = new List<Window>();
        lock (_lock)
        {
            var now = Time.GetUtcNow();
            if (_open is not null && (all || _open.Start + Rules.Window <= now))
            {
                _closed.Enqueue(_open);
                _open = null;
            }
            while (_closed.TryDequeue(out var window))
            {
                windows.Add(window);
            }
        }
        var releases = new List<AggregateRelease>();
        foreach (var window in windows)
        {
            var report = ReleaseWindow(window, releases);
            reports?.Add(report);
        }
        return releases;
    }

    private Window OpenWindow()
    {
        var start = WindowStart(Time.GetUtcNow());
        if (_open is not null && _open.Start == start)
        {
            return _open;
        }
        if (_open is not null)
        {
            if (_closed.Count >= MaxClosedWindows)
            {
                _closed.Dequeue().Forget();
                _closedOverflow++;
            }
            _closed.Enqueue(_open);
        }
        _open = new Window(start);
        return _open;
    }

    private UInt128 Digest(Window window, ReadOnlySpan<char> device)
    {
        var bytes = _deviceBytes.AsSpan(0, Math.Min(_deviceBytes.Length, Encoding.UTF8.GetMaxByteCount(Math.Min(device.Length, _deviceBytes.Length / 3))));
        var length = Encoding.UTF8.GetBytes(device[..Math.Min(device.Length, _deviceBytes.Length / 3)], bytes);
        Span<byte> mac = stackalloc byte[32];
        // One keyed HMAC instance per window, reused under the lock: the key schedule is not redone per message.
        window.Hmac.AppendData(bytes[..length]);
        window.Hmac.GetHashAndReset(mac);
        return MemoryMarshal.Read<UInt128>(mac);
    }

    /// <summary>
    /// Reads the group key (captures and fields joined by U+001F into the scratch key) and the metrics (NaN: absent)
    /// from one payload; false when a group value is missing or the payload is not a JSON object.
    /// </summary>
    private bool ReadPayload(ReadOnlySpan<char> topic, ReadOnlySpan<Range> captures, in ReadOnlySequence<byte> payload, int maxDepth, out int keyLength)
    {
        keyLength = 0;
        Array.Fill(_values, double.NaN);
        var groupBy = Rules.GroupCaptures;
        Span<Range> fieldValues = stackalloc Range[groupBy.Length];
        Span<bool> found = stackalloc bool[groupBy.Length];
        Span<byte> fieldBytes = stackalloc byte[MaxGroupKeyChars];
        var fieldBytesUsed = 0;
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var metric = -1;
                var field = -1;
                for (var m = 0; m < Rules.MetricArray.Length && metric < 0; m++)
                {
                    if (reader.ValueTextEquals(Rules.MetricArray[m].FieldUtf8))
                    {
                        metric = m;
                    }
                }
                for (var g = 0; g < groupBy.Length && metric < 0 && field < 0; g++)
                {
                    if (groupBy[g] < 0 && reader.ValueTextEquals(Rules.GroupFieldsUtf8[g]))
                    {
                        field = g;
                    }
                }
                reader.Read();
                if (metric >= 0 && reader.TokenType == JsonTokenType.Number)
                {
                    if (TryReadNumber(ref reader, out var number))
                    {
                        _values[metric] = number;
                    }
                }
                else if (field >= 0 && reader.TokenType is JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False)
                {
                    // Copied without allocating, whether the value spans segments or not; a string unescaped.
                    var rawLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                    if (fieldBytesUsed + rawLength > fieldBytes.Length)
                    {
                        return false;
                    }
                    var destination = fieldBytes[fieldBytesUsed..];
                    int length;
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        length = reader.CopyString(destination);
                    }
                    else if (reader.HasValueSequence)
                    {
                        reader.ValueSequence.CopyTo(destination);
                        length = (int)rawLength;
                    }
                    else
                    {
                        reader.ValueSpan.CopyTo(destination);
                        length = (int)rawLength;
                    }
                    fieldValues[field] = new Range(fieldBytesUsed, fieldBytesUsed + length);
                    fieldBytesUsed += length;
                    found[field] = true;
                }
                else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        var key = _groupKey.AsSpan();
        for (var g = 0; g < groupBy.Length; g++)
        {
            if (g > 0)
            {
                if (keyLength >= key.Length)
                {
                    return false;
                }
                key[keyLength++] = '\u001f';
            }
            if (groupBy[g] >= 0)
            {
                var value = topic[captures[groupBy[g]]];
                if (value.IsEmpty || keyLength + value.Length > key.Length)
                {
                    return false;
                }
                value.CopyTo(key[keyLength..]);
                keyLength += value.Length;
            }
            else
            {
                if (!found[g])
                {
                    return false;
                }
                var bytes = fieldBytes[fieldValues[g]];
                if (keyLength + Encoding.UTF8.GetMaxCharCount(bytes.Length) > key.Length
                    || !Encoding.UTF8.TryGetChars(bytes, key[keyLength..], out var written))
                {
                    return false;
                }
                keyLength += written;
            }
        }
        return true;
    }

    /// <summary>
    /// A number token as a finite double, without allocating when it spans segments (the reader's own TryGetDouble
    /// copies such a token to a new array).
    /// </summary>
    private static bool TryReadNumber(ref Utf8JsonReader reader, out double number)
    {
        number = 0;
        if (!reader.HasValueSequence)
        {
            return reader.TryGetDouble(out number) && double.IsFinite(number);
        }
        const int MaxNumberBytes = 64;
        var sequence = reader.ValueSequence;
        if (sequence.Length > MaxNumberBytes)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[MaxNumberBytes];
        sequence.CopyTo(bytes);
        var length = (int)sequence.Length;
        return System.Buffers.Text.Utf8Parser.TryParse(bytes[..length], out number, out var consumed) && consumed == length && double.IsFinite(number);
    }

    private AggregateWindowReport ReleaseWindow(Window window, List<AggregateRelease> releases)
    {
        var released = 0;
        var suppressed = 0;
        var end = window.Start + Rules.Window;
        foreach (var group in window.Groups.Values)
        {
            var payload = AggregateOutput.Release(Rules, group.Key, group.Count, group.Values, window.Start, end, Noise);
            if (payload is null)
            {
                suppressed++;
                continue;
            }
            released++;
            releases.Add(new AggregateRelease(Entry, AggregateOutput.Topic(Entry, Rules, group.Key), payload, window.Start, end));
        }
        var report = new AggregateWindowReport(window.Groups.Count, released, suppressed, window.Folded, window.GroupOverflow, window.DeviceOverflow);
        window.Forget();
        return report;
    }

    private sealed class Window
    {
        public Window(DateTimeOffset start)
        {
            Start = start;
            Hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Key);
        }

        public DateTimeOffset Start { get; }

        /// <summary>The digest key of this window only; cleared when it is released, so its digests cannot be recomputed.</summary>
        public byte[] Key { get; } = RandomNumberGenerator.GetBytes(32);

        /// <summary>HMAC-SHA-256 under <see cref="Key"/>; disposed with the window.</summary>
        public IncrementalHash Hmac { get; }

        public Dictionary<string, Group> Groups { get; } = new(StringComparer.Ordinal);
        public int Devices { get; set; }
        public long Folded { get; set; }
        public long GroupOverflow { get; set; }
        public long DeviceOverflow { get; set; }

        public void Forget()
        {
            CryptographicOperations.ZeroMemory(Key);
            Hmac.Dispose();
            Groups.Clear();
        }
    }

    /// <summary>One group of one window: its devices (by digest) and each device's latest value per metric.</summary>
    internal sealed class Group(string key, int metrics)
    {
        public string Key { get; } = key;
        public Dictionary<UInt128, int> Devices { get; } = [];

        /// <summary>Per metric, per device slot, the latest value (NaN: none yet).</summary>
        public double[][] Values { get; private set; } = [.. Enumerable.Range(0, metrics).Select(_ => new double[16])];

        public int Count { get; private set; }

        public int AddDevice()
        {
            if (Count == Values[0].Length)
            {
                for (var m = 0; m < Values.Length; m++)
                {
                    var grown = new double[Count * 2];
                    Values[m].CopyTo(grown, 0);
                    Values[m] = grown;
                }
            }
            for (var m = 0; m < Values.Length; m++)
            {
                Values[m][Count] = double.NaN;
            }
            return Count++;
        }

        public void Set(int slot, double[] values)
        {
            for (var m = 0; m < values.Length; m++)
            {
                if (!double.IsNaN(values[m]))
                {
                    Values[m][slot] = values[m];
                }
            }
        }
    }
}
