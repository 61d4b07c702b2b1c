using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>Ports on 127.0.0.1, the only address the benchmark talks to.</summary>
internal static class Loopback
{
    /// <summary>A port that was free a moment ago (the kernel's choice for an ephemeral bind).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static IPEndPoint Endpoint(int port) => new(IPAddress.Loopback, port);

    /// <summary>
    /// Waits until 127.0.0.1:<paramref name="port"/> accepts a TCP connection, polling every 100 ms for at most
    /// <paramref name="timeout"/>; stops early (false) when <paramref name="process"/> has exited.
    /// </summary>
    public static async Task<bool> WaitUntilListeningAsync(int port, Process process, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !process.HasExited)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await client.ConnectAsync(Endpoint(port), attempt.Token);
                return true;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                await Task.Delay(100);
            }
        }
        return false;
    }
}
