using System.Buffers;
using System.Runtime.CompilerServices;
using TelemetryGateway.Core.Buffers;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// One purpose's protobuf output, over an array rented from the shared pool and reused between messages.
/// A nested message's length is not known until its fields are written, so <see cref="BeginLength"/> reserves one
/// byte (enough below 128 bytes, the usual case) and <see cref="EndLength"/> moves the content up when the length
/// needs more: the output stays in canonical encoding with neither a sizing pass nor a second buffer.
/// </summary>
internal sealed class ProtobufOutputWriter : IBufferWriter<byte>, IDisposable
{
    private readonly PooledBufferWriter _output;
    private readonly int[] _openLengths;
    private int _open;

    public ProtobufOutputWriter(int initialCapacity, int maxOpenLengths)
    {
        _output = new PooledBufferWriter(initialCapacity);
        _openLengths = new int[maxOpenLengths];
    }

    public ReadOnlyMemory<byte> WrittenMemory => _output.WrittenMemory;

    public void Reset()
    {
        _output.Reset();
        _open = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteTag(int number, WireType wireType) => WriteVarint(((uint)number << 3) | (uint)wireType);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteVarint(ulong value) => _output.Advance(ProtobufWire.WriteVarint(value, _output.GetSpan(ProtobufWire.MaxVarintLength)));

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_output.GetSpan(bytes.Length));
        _output.Advance(bytes.Length);
    }

    /// <summary>A length-delimited field: tag, length, bytes.</summary>
    public void WriteLengthDelimited(int number, ReadOnlySpan<byte> bytes)
    {
        WriteTag(number, WireType.LengthDelimited);
        WriteVarint((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>At least <paramref name="sizeHint"/> writable bytes; <see cref="Advance"/> commits what was used.</summary>
    public Span<byte> GetSpan(int sizeHint = 0) => _output.GetSpan(sizeHint);

    public Memory<byte> GetMemory(int sizeHint = 0) => _output.GetMemory(sizeHint);

    public void Advance(int count) => _output.Advance(count);

    /// <summary>Starts a length-delimited value whose length <see cref="EndLength"/> fills in.</summary>
    public void BeginLength()
    {
        _openLengths[_open++] = _output.WrittenMemory.Length;
        _output.GetSpan(1);
        _output.Advance(1);
    }

    public void EndLength()
    {
        var start = _openLengths[--_open];
        var contentStart = start + 1;
        var length = _output.WrittenMemory.Length - contentStart;
        var prefix = ProtobufWire.VarintLength((ulong)length);
        if (prefix > 1)
        {
            _output.GetSpan(prefix - 1);
            _output.Advance(prefix - 1);
            var written = _output.WrittenSpan;
            written.Slice(contentStart, length).CopyTo(written[(start + prefix)..]);
        }
        ProtobufWire.WriteVarint((ulong)length, _output.WrittenSpan[start..]);
    }

    public void Dispose() => _output.Dispose();
}
