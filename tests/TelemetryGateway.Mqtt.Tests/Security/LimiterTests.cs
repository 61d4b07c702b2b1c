using System.Net;
using TelemetryGateway.Mqtt.Security.Limits;

namespace TelemetryGateway.Mqtt.Tests.Security;

public sealed class LimiterTests
{
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;

        public override long GetTimestamp() => _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    private static readonly IPAddress s_host = IPAddress.Parse("192.0.2.10");

    [Fact]
    public void Connections_from_one_address_stop_at_the_per_address_limit()
    {
        var limiter = new ConnectionLimiter(maxConnections: 100, maxPerAddress: 2);

        Assert.True(limiter.TryAcquire(s_host));
        Assert.True(limiter.TryAcquire(s_host));
        Assert.False(limiter.TryAcquire(s_host));
        Assert.True(limiter.TryAcquire(IPAddress.Parse("192.0.2.11")));
    }

    [Fact]
    public void Released_connection_frees_its_slot()
    {
        var limiter = new ConnectionLimiter(maxConnections: 100, maxPerAddress: 1);
        Assert.True(limiter.TryAcquire(s_host));

        limiter.Release(s_host);

        Assert.True(limiter.TryAcquire(s_host));
    }

    [Fact]
    public void Total_limit_applies_to_every_address_including_loopback()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2, maxPerAddress: 2);

        Assert.True(limiter.TryAcquire(IPAddress.Loopback));
        Assert.True(limiter.TryAcquire(s_host));
        Assert.False(limiter.TryAcquire(IPAddress.Loopback));
        Assert.Equal(2, limiter.Open);
    }

    [Fact]
    public void Loopback_clients_are_not_limited_per_address()
    {
        var limiter = new ConnectionLimiter(maxConnections: 10, maxPerAddress: 1);

        Assert.True(limiter.TryAcquire(IPAddress.Loopback));
        Assert.True(limiter.TryAcquire(IPAddress.Loopback));
    }

    [Fact]
    public void Ipv4_mapped_address_counts_as_the_ipv4_address()
    {
        var limiter = new ConnectionLimiter(maxConnections: 10, maxPerAddress: 1);

        Assert.True(limiter.TryAcquire(s_host));
        Assert.False(limiter.TryAcquire(s_host.MapToIPv6()));
    }

    [Fact]
    public void Publishes_beyond_the_burst_are_refused()
    {
        var limiter = new PublishRateLimiter(ratePerSecond: 10, burst: 3, new ManualTime());

        Assert.True(limiter.TryTake("c"));
        Assert.True(limiter.TryTake("c"));
        Assert.True(limiter.TryTake("c"));
        Assert.False(limiter.TryTake("c"));
    }

    [Fact]
    public void Publish_tokens_come_back_at_the_configured_rate()
    {
        var time = new ManualTime();
        var limiter = new PublishRateLimiter(ratePerSecond: 10, burst: 1, time);
        Assert.True(limiter.TryTake("c"));
        Assert.False(limiter.TryTake("c"));

        time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.True(limiter.TryTake("c"));
    }

    [Fact]
    public void Each_client_has_its_own_bucket()
    {
        var limiter = new PublishRateLimiter(ratePerSecond: 1, burst: 1, new ManualTime());

        Assert.True(limiter.TryTake("a"));
        Assert.True(limiter.TryTake("b"));
    }
}
