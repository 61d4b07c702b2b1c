using System.Net;
using System.Net.Sockets;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

public sealed class MqttUpstreamReconnectTests
{
    [Fact]
    public async Task The_unreachable_log_names_host_and_port_and_the_wait_actually_ahead()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var logger = new RecordingLogger<MqttUpstream>();
        var options = new UpstreamOptions
        {
            Url = $"mqtt://127.0.0.1:{port}",
            ReconnectMinDelay = TimeSpan.FromMilliseconds(40),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(160),
        };
        await using var upstream = new MqttUpstream(options, logger, TimeProvider.System);
        using var stop = new CancellationTokenSource();

        var connecting = upstream.ConnectAsync(stop.Token);
        Assert.True(await EventuallyAsync(() => logger.Count(EventIds.UpstreamUnreachable) >= 3, TimeSpan.FromSeconds(20)), logger.Text);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting);

        var lines = logger.Entries.Where(e => e.EventId == EventIds.UpstreamUnreachable).Select(e => e.Message).ToList();
        Assert.StartsWith($"Upstream 127.0.0.1:{port} unreachable", lines[0], StringComparison.Ordinal);
        Assert.Contains("attempt 1; next attempt in", lines[0], StringComparison.Ordinal);
        Assert.Contains("(backoff now up to 40 ms)", lines[0], StringComparison.Ordinal);
        Assert.Contains("(backoff now up to 80 ms)", lines[1], StringComparison.Ordinal);
        Assert.Contains("(backoff now up to 160 ms)", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_backoff_cap_is_5_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), new UpstreamOptions().ReconnectMaxDelay);
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }
}
