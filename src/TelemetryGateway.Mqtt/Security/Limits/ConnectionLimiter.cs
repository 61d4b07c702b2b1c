using System.Collections.Concurrent;
using System.Net;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>
/// Counts open connections, in total and per remote address, against <see cref="ConnectionLimitOptions"/>. Loopback
/// clients are local processes: they count toward the total, not toward a per-address limit.
/// </summary>
internal sealed class ConnectionLimiter(int maxConnections, int maxPerAddress)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _total;

    public int Open => Volatile.Read(ref _total);

    /// <summary>Takes a slot for a connection from <paramref name="address"/>; false when a limit is reached (nothing taken).</summary>
    public bool TryAcquire(IPAddress? address)
    {
        if (Interlocked.Increment(ref _total) > maxConnections)
        {
            Interlocked.Decrement(ref _total);
            return false;
        }
        if (address is null || IPAddress.IsLoopback(address))
        {
            return true;
        }
        address = Normalize(address);
        while (true)
        {
            var count = _perAddress.GetValueOrDefault(address);
            if (count >= maxPerAddress)
            {
                Interlocked.Decrement(ref _total);
                return false;
            }
            if (count == 0 ? _perAddress.TryAdd(address, 1) : _perAddress.TryUpdate(address, count + 1, count))
            {
                return true;
            }
        }
    }

    public void Release(IPAddress? address)
    {
        Interlocked.Decrement(ref _total);
        if (address is null || IPAddress.IsLoopback(address))
        {
            return;
        }
        address = Normalize(address);
        while (_perAddress.TryGetValue(address, out var count))
        {
            if (count <= 1 ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, count)) : _perAddress.TryUpdate(address, count - 1, count))
            {
                return;
            }
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
