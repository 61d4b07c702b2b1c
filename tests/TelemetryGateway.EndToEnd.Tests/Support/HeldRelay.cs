using System.Net;
using System.Net.Sockets;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>
/// A TCP relay on loopback in front of a real broker that can be held: while held it forwards nothing in either
/// direction (what the client sends is read and kept back, counted in <see cref="HeldBytes"/>), so a client's publishes
/// get no acknowledgement and reach nobody. A connection that closes while held loses what was kept back, as a
/// process killed before its bytes left would. Released, it forwards again (new connections too).
/// </summary>
internal sealed class HeldRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accept;
    private volatile TaskCompletionSource _released = Released();
    private long _heldBytes;

    public HeldRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accept = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Bytes a client sent while the relay was held (read, not forwarded).</summary>
    public long HeldBytes => Interlocked.Read(ref _heldBytes);

    public void Hold() => _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _released.TrySetResult();

    /// <summary>
    /// Closes every connection now, in both directions (a cloud connection lost); while held, what was kept back is lost
    /// with it. New connections are accepted as before.
    /// </summary>
    public void DropConnections()
    {
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Client?.Close(0);
                connection.Dispose();
            }
            _connections.Clear();
        }
    }

    private static TaskCompletionSource Released()
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        released.SetResult();
        return released;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var target = new TcpClient();
            try
            {
                await target.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                client.Dispose();
                target.Dispose();
                continue;
            }
            lock (_connections)
            {
                _connections.Add(client);
                _connections.Add(target);
            }
            _ = PumpAsync(client, target, countHeld: true);
            _ = PumpAsync(target, client, countHeld: false);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, bool countHeld)
    {
        // Read on while held, so that a client that goes away is noticed and what it sent is dropped with it.
        var pending = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();
        var writer = WriteAsync(pending.Reader, to);
        try
        {
            var source = from.GetStream();
            var buffer = new byte[16 * 1024];
            while (!_stop.IsCancellationRequested)
            {
                var read = await source.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }
                if (!_released.Task.IsCompleted && countHeld)
                {
                    Interlocked.Add(ref _heldBytes, read);
                }
                pending.Writer.TryWrite(buffer.AsSpan(0, read).ToArray());
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The client went away (killed).
        }
        if (!_released.Task.IsCompleted)
        {
            // Closed while held: what it sent is lost, as if it had never left the process.
            from.Dispose();
            to.Dispose();
        }
        pending.Writer.TryComplete();
        await writer;
        from.Dispose();
        to.Dispose();
    }

    private async Task WriteAsync(System.Threading.Channels.ChannelReader<byte[]> pending, TcpClient to)
    {
        try
        {
            var destination = to.GetStream();
            await foreach (var chunk in pending.ReadAllAsync(_stop.Token))
            {
                // Held: kept back until released, bounded by the test's own time limits and the relay's disposal.
                await _released.Task.WaitAsync(_stop.Token);
                await destination.WriteAsync(chunk, _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The other side is gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }
        }
        _stop.Dispose();
    }
}
