using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace TelemetryGateway.Core.Buffers;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over an array rented from <see cref="ArrayPool{T}.Shared"/>.
/// It is reset, not reallocated, between messages, so in steady state it allocates nothing.
/// </summary>
public sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialCapacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    /// <summary>What was written, writable: for a writer that fills in a prefix after its content (a length).</summary>
    internal Span<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>Forgets what was written; keeps the rented array.</summary>
    public void Reset() => _written = 0;

    /// <summary>Bytes written so far.</summary>
    internal int WrittenCount => _written;

    /// <summary>Forgets what was written after the first <paramref name="length"/> bytes (a writer taking back its last token).</summary>
    internal void Truncate(int length)
    {
        if ((uint)length > (uint)_written)
        {
            ThrowInvalidAdvance(length - _written);
        }
        _written = length;
    }

    // Inlined (the JSON writer advances after every token), with the checks in one compare and the throws out of line.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count)
    {
        // As unsigned, a negative count is larger than any room left.
        if ((uint)count > (uint)(_buffer.Length - _written))
        {
            ThrowInvalidAdvance(count);
        }
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
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

    // The check is inlined into every GetSpan; growing, which is rare once warm, is a call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int sizeHint)
    {
        if (_buffer.Length - _written < Math.Max(sizeHint, 1))
        {
            Grow(Math.Max(sizeHint, 1));
        }
    }

    private void Grow(int sizeHint)
    {
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = grown;
    }

    [DoesNotReturn]
    private static void ThrowInvalidAdvance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        throw new InvalidOperationException("Cannot advance past the end of the buffer.");
    }
}
