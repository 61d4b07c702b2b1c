using System.Collections.Concurrent;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>
/// A token bucket per client id: <c>ratePerSecond</c> tokens a second, at most <c>burst</c> saved up. A publish takes one
/// token; without one it is refused. Buckets are dropped when their client disconnects.
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
}
