using System.Collections.Concurrent;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>
/// A token bucket per key (an identity, or the address of anonymous clients): <c>ratePerSecond</c> tokens a second, at
/// most <c>burst</c> saved up. A publish takes one token; without one it is refused. A bucket is dropped only once it
/// has refilled (<see cref="ForgetIfFull"/>), so reconnecting, or using another client id, never buys a fresh burst.
/// </summary>
internal sealed class PublishRateLimiter(int ratePerSecond, int burst, TimeProvider time)
{
    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens = tokens;
        public long Stamp = stamp;
    }

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public bool TryTake(string clientId)
    {
        var now = time.GetTimestamp();
        var bucket = _buckets.GetOrAdd(clientId, static (_, state) => new Bucket(state.burst, state.now), (burst, now));
        // One client's publishes come from its own receive loop, but a will message may race it: lock the bucket.
        lock (bucket)
        {
            var elapsed = time.GetElapsedTime(bucket.Stamp, now).TotalSeconds;
            bucket.Stamp = now;
            bucket.Tokens = Math.Min(burst, bucket.Tokens + (elapsed * ratePerSecond));
            if (bucket.Tokens < 1)
            {
                return false;
            }
            bucket.Tokens -= 1;
            return true;
        }
    }

    public void Forget(string clientId) => _buckets.TryRemove(clientId, out _);

    /// <summary>Drops the bucket when it would be full by now (the same as a new one); a drained bucket stays.</summary>
    public void ForgetIfFull(string key)
    {
        if (_buckets.TryGetValue(key, out var bucket))
        {
            lock (bucket)
            {
                var refilled = bucket.Tokens + (time.GetElapsedTime(bucket.Stamp).TotalSeconds * ratePerSecond);
                if (refilled < burst)
                {
                    return;
                }
            }
            _buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket));
        }
    }

    /// <summary>Buckets held (bounded by the identities and addresses that published recently).</summary>
    public int Count => _buckets.Count;
}
