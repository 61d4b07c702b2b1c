using System.Net.Sockets;
using System.Text;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Hosting;

/// <summary>The gateway under systemd's watchdog: WATCHDOG=1 on the notify socket at half the interval systemd asks for.</summary>
public sealed class SystemdWatchdogTests
{
    [Fact]
    public async Task The_gateway_notifies_the_watchdog_at_half_its_interval_while_its_loops_run()
    {
        using var temp = new TempDirectory();
        var socketPath = temp.Combine("notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        var environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "600000" };
        await using var gateway = await GatewayProcess.StartWithEnvironmentAsync(environment, temp.DataDirectory);

        var watchdogs = new List<DateTime>();
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (watchdogs.Count < 5)
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (Encoding.ASCII.GetString(buffer, 0, length) == "WATCHDOG=1")
            {
                watchdogs.Add(DateTime.UtcNow);
            }
        }

        // 300 ms apart (half of 600 ms); bounds loose enough for a loaded 2-core machine.
        var spacing = (watchdogs[^1] - watchdogs[1]).TotalMilliseconds / (watchdogs.Count - 2);
        Assert.InRange(spacing, 150, 600);
        Assert.Contains("systemd watchdog: WATCHDOG=1 every 300 ms", gateway.Output, StringComparison.Ordinal);
    }
}
