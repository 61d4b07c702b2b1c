using System.Buffers.Text;
using System.Text;

namespace TelemetryGateway.Core.Aggregation;

/// <summary>How an aggregate entry uses a payload field: as a metric (a number) or as a group (a category).</summary>
internal enum AggregateFieldUse
{
    /// <summary>A numeric scalar whose values are counted, summed, binned.</summary>
    Metric,

    /// <summary>A categorical value (text, enum, bool, a small number) that keys a group.</summary>
    Group,
}

/// <summary>
/// The payload fields the aggregate entries of one stream read, each named once: the union of their metrics and of
/// their payload groups, in first-named order. Built when the policy compiles; every entry's rules index into it
/// (<see cref="AggregateRules.MetricSlots"/>), so one scan of a message serves every aggregate entry of its stream
/// (the stream format's rewriter reads it: <see cref="Pipeline.IPayloadMinimizer.ReadAggregateFields"/>).
/// </summary>
internal sealed class AggregateFieldSet
{
    public AggregateFieldSet(string[] metrics, string[] groups, object? plan)
    {
        Metrics = metrics;
        Groups = groups;
        MetricsUtf8 = Array.ConvertAll(metrics, Encoding.UTF8.GetBytes);
        GroupsUtf8 = Array.ConvertAll(groups, Encoding.UTF8.GetBytes);
        Plan = plan;
        foreach (var name in MetricsUtf8.Concat(GroupsUtf8))
        {
            NameLengths |= name.Length < 64 ? 1UL << name.Length : 1UL << 63;
        }
    }

    /// <summary>A bit per UTF-8 length of the names (bit 63: 63 or more), so most other names are told apart by length alone.</summary>
    public ulong NameLengths { get; }

    /// <summary>True when some name of the set may have <paramref name="length"/> bytes.</summary>
    public bool MayName(int length) => (NameLengths & (length < 64 ? 1UL << length : 1UL << 63)) != 0;

    /// <summary>The numeric fields, as the policy names them (a JSON member, a protobuf field path, a SOLIX map name).</summary>
    public string[] Metrics { get; }

    /// <summary>The categorical fields that key groups, as the policy names them.</summary>
    public string[] Groups { get; }

    public byte[][] MetricsUtf8 { get; }
    public byte[][] GroupsUtf8 { get; }

    /// <summary>What the stream format compiled the names to (field numbers, map name ids); null for JSON.</summary>
    public object? Plan { get; }
}

/// <summary>
/// One message's values of a stream's <see cref="AggregateFieldSet"/>, and the device's id as UTF-8 (what its digest is
/// computed over): filled once per message, read by every aggregate entry of the stream. One per
/// <see cref="Pipeline.Minimizer"/> (one thread), reused; nothing allocated once it has grown to the policy's sizes.
/// </summary>
internal sealed class AggregateScan
{
    /// <summary>Group values of one message together, in UTF-8: a longer message's groups are not read.</summary>
    public const int MaxGroupBytes = 512;

    /// <summary>Bytes of the device id a digest is computed over (ids are 16-17 characters).</summary>
    public const int MaxDeviceBytes = 256;

    /// <summary>Characters of one group key (its values joined): a longer key's message is not folded.</summary>
    public const int MaxGroupKeyChars = 512;

    private readonly byte[] _text = new byte[MaxGroupBytes];
    private readonly char[] _key = new char[MaxGroupKeyChars];
    private double[] _entryValues = new double[8];
    private readonly byte[] _device = new byte[MaxDeviceBytes];
    private double[] _metrics = new double[8];
    private Range[] _groups = new Range[4];
    private bool[] _found = new bool[4];
    private int _textUsed;
    private int _metricCount;
    private int _groupCount;

    /// <summary>The device id of the message, UTF-8, at most <see cref="MaxDeviceBytes"/> bytes; empty without one.</summary>
    public ReadOnlySpan<byte> Device => _device.AsSpan(0, DeviceLength);

    public int DeviceLength { get; private set; }

    /// <summary>Starts a message of <paramref name="device"/>: every field absent.</summary>
    public void Begin(AggregateFieldSet fields, ReadOnlySpan<char> device)
    {
        _metricCount = fields.Metrics.Length;
        _groupCount = fields.Groups.Length;
        if (_metrics.Length < _metricCount)
        {
            _metrics = new double[_metricCount];
        }
        if (_groups.Length < _groupCount)
        {
            _groups = new Range[_groupCount];
            _found = new bool[_groupCount];
        }
        _metrics.AsSpan(0, _metricCount).Fill(double.NaN);
        _found.AsSpan(0, _groupCount).Clear();
        _textUsed = 0;
        // A longer id is cut: the digest then covers its first characters (never more than a third of the buffer, so
        // any character fits).
        var chars = device[..Math.Min(device.Length, MaxDeviceBytes / 3)];
        DeviceLength = Encoding.UTF8.GetBytes(chars, _device);
    }

    /// <summary>Where an entry builds its group key (this thread's; valid until the next entry's fold).</summary>
    public Span<char> KeyBuffer => _key;

    /// <summary>Where an entry gathers its <paramref name="count"/> metrics from the set (this thread's, reused).</summary>
    public Span<double> ValueBuffer(int count)
    {
        if (_entryValues.Length < count)
        {
            _entryValues = new double[count];
        }
        return _entryValues.AsSpan(0, count);
    }

    /// <summary>Metric <paramref name="index"/> of the set (NaN: absent from the message).</summary>
    public double Metric(int index) => _metrics[index];

    /// <summary>Sets metric <paramref name="index"/>; a non-finite number leaves it absent.</summary>
    public void SetMetric(int index, double value)
    {
        if (double.IsFinite(value))
        {
            _metrics[index] = value;
        }
    }

    /// <summary>Group <paramref name="index"/>'s value as UTF-8, when the message had it.</summary>
    public bool TryGroup(int index, out ReadOnlySpan<byte> value)
    {
        value = _found[index] ? _text.AsSpan(_groups[index]) : default;
        return _found[index];
    }

    /// <summary>Where the next group value may be written (what is left of the text buffer).</summary>
    public Span<byte> GroupSpace => _text.AsSpan(_textUsed);

    /// <summary>Takes the <paramref name="length"/> bytes written at <see cref="GroupSpace"/> as group <paramref name="index"/>'s value.</summary>
    public void CommitGroup(int index, int length)
    {
        // A later occurrence of the field replaces the earlier one (protobuf's last-one-wins); its bytes stay unused.
        _groups[index] = new Range(_textUsed, _textUsed + length);
        _found[index] = true;
        _textUsed += length;
    }

    /// <summary>Group <paramref name="index"/> as a copy of <paramref name="utf8"/>; false when the text buffer is full.</summary>
    public bool SetGroup(int index, ReadOnlySpan<byte> utf8)
    {
        if (!utf8.TryCopyTo(GroupSpace))
        {
            return false;
        }
        CommitGroup(index, utf8.Length);
        return true;
    }

    /// <summary>Group <paramref name="index"/> as an integer's invariant text.</summary>
    public bool SetGroup(int index, long number) =>
        Utf8Formatter.TryFormat(number, GroupSpace, out var written) && Commit(index, written);

    /// <summary>Group <paramref name="index"/> as a text's UTF-8 (an enum value's name, say).</summary>
    public bool SetGroup(int index, string text) =>
        Encoding.UTF8.TryGetBytes(text, GroupSpace, out var written) && Commit(index, written);

    private bool Commit(int index, int length)
    {
        CommitGroup(index, length);
        return true;
    }
}
