using System.Buffers;
using System.Runtime.CompilerServices;

namespace TelemetryGateway.Core.Buffers;

/// <summary>
/// A reusable byte array that grows (from the shared pool) when a larger token arrives and then stays,
/// so steady-state processing allocates nothing. Not thread-safe; one per worker.
/// </summary>
internal sealed class ScratchBuffer : IDisposable
{
    private byte[] _array;

    public ScratchBuffer(int initialSize) => _array = ArrayPool<byte>.Shared.Rent(initialSize);

    /// <summary>A span of at least <paramref name="size"/> bytes; its content is not preserved across growth.</summary>
    // Inlined: transforms ask for their scratch once per value; growing, rare once warm, is a call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Get(int size)
    {
        if (_array.Length < size)
        {
            Grow(size);
        }
        return _array;
    }

    private void Grow(int size)
    {
        ArrayPool<byte>.Shared.Return(_array);
        _array = ArrayPool<byte>.Shared.Rent(size);
    }

    public ReadOnlySpan<byte> Slice(int length) => _array.AsSpan(0, length);

    public void Dispose()
    {
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = [];
        }
    }
}
