using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace TelemetryGateway.LoadTest.Devices;

/// <summary>
/// One simulated SOLIX device: client id <c>dev-{index}</c>, its own 16-character serial, and a corpus status
/// message it publishes to <c>dt/anker_power/{pn}/{sn}/status</c> with <c>"ts"</c> set to the send time.
/// </summary>
internal sealed class SimulatedDevice
{
    private const string SerialAlphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    private readonly byte[] _prefix;
    private readonly byte[] _suffix;
    private long _lastTs;

    public SimulatedDevice(int index, StatusMessageTemplate template)
    {
        Index = index;
        ClientId = string.Create(CultureInfo.InvariantCulture, $"dev-{index}");
        Serial = SerialFor(index);
        Topic = Encoding.UTF8.GetBytes($"dt/anker_power/{template.ProductNumber}/{Serial}/status");
        (_prefix, _suffix) = template.ForDevice(Serial);
    }

    public int Index { get; }

    public string ClientId { get; }

    public string Serial { get; }

    public byte[] Topic { get; }

    /// <summary>Upper bound of <see cref="WritePayload"/>'s output.</summary>
    public int MaxPayloadLength => _prefix.Length + 20 + _suffix.Length;

    /// <summary>
    /// Writes the status payload with <c>"ts"</c> = <paramref name="nowMicros"/>, raised if needed so that it is
    /// strictly increasing per device (at least 1: 0 marks warm-up probes). Returns the bytes written.
    /// </summary>
    public int WritePayload(Span<byte> destination, long nowMicros)
    {
        var ts = Math.Max(Math.Max(nowMicros, _lastTs + 1), 1);
        _lastTs = ts;
        return Format(destination, _prefix, ts, _suffix);
    }

    /// <summary>Writes the payload with <c>"ts": 0</c>, the mark of a warm-up probe that the measurement ignores.</summary>
    public int WriteProbePayload(Span<byte> destination) => Format(destination, _prefix, 0, _suffix);

    private static int Format(Span<byte> destination, ReadOnlySpan<byte> prefix, long ts, ReadOnlySpan<byte> suffix)
    {
        prefix.CopyTo(destination);
        if (!Utf8Formatter.TryFormat(ts, destination[prefix.Length..], out var digits))
        {
            throw new ArgumentException("destination too small", nameof(destination));
        }
        suffix.CopyTo(destination[(prefix.Length + digits)..]);
        return prefix.Length + digits + suffix.Length;
    }

    /// <summary>A deterministic, unique, corpus-looking serial: "LT", the index in 5 digits, 9 pseudo-random characters.</summary>
    public static string SerialFor(int index)
    {
        Span<char> serial = stackalloc char[16];
        var digits = index.ToString("D5", CultureInfo.InvariantCulture);
        serial[0] = 'L';
        serial[1] = 'T';
        digits.AsSpan(digits.Length - 5).CopyTo(serial[2..]);
        var state = (uint)index * 2_654_435_761u + 12_345u;
        for (var i = 7; i < 16; i++)
        {
            state = (state * 1_103_515_245u) + 12_345u;
            serial[i] = SerialAlphabet[(int)((state >> 16) % (uint)SerialAlphabet.Length)];
        }
        return new string(serial);
    }
}
