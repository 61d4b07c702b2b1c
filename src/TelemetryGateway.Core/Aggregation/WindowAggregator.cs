using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>What one window of one aggregate entry did, counted (never values): for the records and the tests.</summary>
public sealed record AggregateWindowReport(int Groups, int Released, int Suppressed, long Folded, long GroupOverflow, long DeviceOverflow);

/// <summary>One released group of one window: its output topic, payload and window, to be delivered like any output.</summary>
public sealed record AggregateRelease(StreamPurpose Entry, string Topic, byte[] Payload, DateTimeOffset WindowStart, DateTimeOffset WindowEnd);

/// <summary>
/// The state of one aggregate purpose entry (issue 18): tumbling windows aligned to the Unix epoch on
/// <see cref="Time"/>; per window, groups keyed by the <c>groupBy</c> values, and in each group every distinct device
/// once, under a keyed digest (SipHash-2-4 under a random key drawn for the window and cleared when it ends), so no
/// identifier is kept. A device contributes its latest value of each metric in the window (clipped), whatever it
/// reported before: a device reporting a thousand times counts once, with what it last said. Thread-safe (one lock;
/// folding a message costs a digest, two dictionary look-ups and no allocation once its group and device are known).
/// At most two windows exist: the open one and, until released, the one it replaced; a window that ended and is not
/// yet released when a third begins is released with the next <see cref="ReleaseEnded"/> call all the same.
/// </summary>
public sealed class WindowAggregator
{
    private const int MaxClosedWindows = 4;
    private readonly Lock _lock = new();
    private readonly Queue<Window> _closed = new();
    private Window? _open;
    private long _closedOverflow;

    internal WindowAggregator(StreamPurpose entry, AggregateRules rules)
    {
        Entry = entry;
        Rules = rules;
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
    /// Folds one message into the open window: its device and payload fields from <paramref name="scan"/> (read once
    /// for every aggregate entry of the stream), its group from the captures of <paramref name="topic"/> and the scan.
    /// <paramref name="rules"/> are the entry's of the policy in service (equal to <see cref="Rules"/>; after a reload
    /// that kept this aggregator, bound to the new stream's field set). Returns false when the message was not folded:
    /// no device, a group value missing, none of the metrics in the message, or a bound reached (counted).
    /// </summary>
    internal bool Fold(AggregateRules rules, AggregateScan scan, ReadOnlySpan<char> topic, ReadOnlySpan<Range> captures)
    {
        if (scan.DeviceLength == 0)
        {
            return false;
        }
        // The group key and the values are read outside the lock, into the scan's (this thread's) own buffers.
        var keyBuffer = scan.KeyBuffer;
        var values = scan.ValueBuffer(rules.MetricSlots.Length);
        var any = false;
        for (var m = 0; m < values.Length; m++)
        {
            values[m] = scan.Metric(rules.MetricSlots[m]);
            any |= !double.IsNaN(values[m]);
        }
        if (!any || !GroupKey(rules, scan, topic, captures, keyBuffer, out var keyLength))
        {
            return false;
        }
        var key = keyBuffer[..keyLength];
        lock (_lock)
        {
            var window = OpenWindow();
            var lookup = window.Groups.GetAlternateLookup<ReadOnlySpan<char>>();
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
            // The device's keyed digest under this window's key only: SipHash-2-4, a PRF, cheap enough per message.
            var digest = SipHash.Hash(window.Key0, window.Key1, scan.Device);
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
            group.Set(slot, values);
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

    /// <summary>
    /// The group key: captures and payload group values joined by U+001F; false when a value is missing or too long.
    /// </summary>
    private static bool GroupKey(AggregateRules rules, AggregateScan scan, ReadOnlySpan<char> topic, ReadOnlySpan<Range> captures, Span<char> key, out int keyLength)
    {
        keyLength = 0;
        var groupCaptures = rules.GroupCaptures;
        for (var g = 0; g < groupCaptures.Length; g++)
        {
            if (g > 0)
            {
                if (keyLength >= key.Length)
                {
                    return false;
                }
                key[keyLength++] = '\u001f';
            }
            if (groupCaptures[g] >= 0)
            {
                var value = topic[captures[groupCaptures[g]]];
                if (value.IsEmpty || keyLength + value.Length > key.Length)
                {
                    return false;
                }
                value.CopyTo(key[keyLength..]);
                keyLength += value.Length;
            }
            else
            {
                if (!scan.TryGroup(rules.GroupSlots[g], out var bytes)
                    || keyLength + Encoding.UTF8.GetMaxCharCount(bytes.Length) > key.Length
                    || !Encoding.UTF8.TryGetChars(bytes, key[keyLength..], out var written))
                {
                    return false;
                }
                keyLength += written;
            }
        }
        return true;
    }

    private AggregateWindowReport ReleaseWindow(Window window, List<AggregateRelease> releases)
    {
        var released = 0;
        var suppressed = 0;
        var end = window.Start + Rules.Window;
        foreach (var group in window.Groups.Values)
        {
            var payload = AggregateOutput.Release(Rules, group.Key, group.Count, group.Columns(), window.Start, end, Noise);
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
            Span<byte> key = stackalloc byte[16];
            RandomNumberGenerator.Fill(key);
            Key0 = BinaryPrimitives.ReadUInt64LittleEndian(key);
            Key1 = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
            CryptographicOperations.ZeroMemory(key);
        }

        public DateTimeOffset Start { get; }

        /// <summary>The 128-bit digest key of this window only; cleared when it is released, so its digests cannot be recomputed.</summary>
        public ulong Key0 { get; private set; }

        public ulong Key1 { get; private set; }

        public Dictionary<string, Group> Groups { get; } = new(StringComparer.Ordinal);
        public int Devices { get; set; }
        public long Folded { get; set; }
        public long GroupOverflow { get; set; }
        public long DeviceOverflow { get; set; }

        public void Forget()
        {
            Key0 = 0;
            Key1 = 0;
            Groups.Clear();
        }
    }

    /// <summary>
    /// One group of one window: its devices (by digest) and each device's latest value per metric, one row per device
    /// (its metrics side by side, so folding a message touches one cache line, not one per metric).
    /// </summary>
    internal sealed class Group(string key, int metrics)
    {
        private readonly int _metrics = Math.Max(1, metrics);
        private double[] _rows = new double[16 * Math.Max(1, metrics)];

        public string Key { get; } = key;
        public Dictionary<ulong, int> Devices { get; } = [];

        public int Count { get; private set; }

        public int AddDevice()
        {
            if ((Count + 1) * _metrics > _rows.Length)
            {
                Array.Resize(ref _rows, _rows.Length * 2);
            }
            _rows.AsSpan(Count * _metrics, _metrics).Fill(double.NaN);
            return Count++;
        }

        public void Set(int slot, ReadOnlySpan<double> values)
        {
            var row = _rows.AsSpan(slot * _metrics, values.Length);
            for (var m = 0; m < values.Length; m++)
            {
                if (!double.IsNaN(values[m]))
                {
                    row[m] = values[m];
                }
            }
        }

        /// <summary>Per metric, every device's latest value (NaN: none): the columns a release reads, made once per window.</summary>
        public double[][] Columns()
        {
            var columns = new double[_metrics][];
            for (var m = 0; m < columns.Length; m++)
            {
                columns[m] = new double[Count];
                for (var d = 0; d < Count; d++)
                {
                    columns[m][d] = _rows[(d * _metrics) + m];
                }
            }
            return columns;
        }
    }
}
