using System.Buffers;
using System.Runtime.CompilerServices;

namespace TelemetryGateway.Core.Protobuf;

/// <summary>
/// One purpose's protobuf output, over an array rented from the shared pool and reused between messages.
/// A nested message's length is not known until its fields are written, so <see cref="BeginLength"/> reserves one
/// byte (enough below 128 bytes, the usual case) and <see cref="EndLength"/> moves the content up when the length
/// needs more: the output stays in canonical encoding with neither a sizing pass nor a second buffer.
/// </summary>
internal sealed class ProtobufOutputWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;
    private readonly int[] _openLengths;
    private int _open;

    public ProtobufOutputWriter(int initialCapacity, int maxOpenLengths)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
        _openLengths = new int[maxOpenLengths];
    }

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Reset()
    {
        _written = 0;
        _open = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteTag(int number, WireType wireType) => WriteVarint(((uint)number << 3) | (uint)wireType);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteVarint(ulong value)
    {
        Ensure(ProtobufWire.MaxVarintLength);
        _written += ProtobufWire.WriteVarint(value, _buffer.AsSpan(_written));
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_written));
        _written += bytes.Length;
    }

    /// <summary>A length-delimited field: tag, length, bytes.</summary>
    public void WriteLengthDelimited(int number, ReadOnlySpan<byte> bytes)
    {
        WriteTag(number, WireType.LengthDelimited);
        WriteVarint((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>At least <paramref name="sizeHint"/> writable bytes; <see cref="Advance"/> commits what was used.</summary>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_written);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_written);
    }

    public void Advance(int count) => _written += count;

    /// <summary>Starts a length-delimited value whose length <see cref="EndLength"/> fills in.</summary>
    public void BeginLength()
    {
        Ensure(1);
        _openLengths[_open++] = _written;
        _written++;
    }

    public void EndLength()
    {
        var start = _openLengths[--_open];
        var contentStart = start + 1;
        var length = _written - contentStart;
        var prefix = ProtobufWire.VarintLength((ulong)length);
        if (prefix > 1)
        {
            Ensure(prefix - 1);
            _buffer.AsSpan(contentStart, length).CopyTo(_buffer.AsSpan(start + prefix));
            _written += prefix - 1;
        }
        ProtobufWire.WriteVarint((ulong)length, _buffer.AsSpan(start));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int size)
    {
        if (_buffer.Length - _written < size)
        {
            Grow(size);
        }
    }

    private void Grow(int size)
    {
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + size));
        _buffer.AsSpan(0, _written).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = grown;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
