using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>A request the stand-in cloud received in full: path, headers and body.</summary>
internal sealed record SinkRequest(string Method, string Path, string Query, Dictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.GetValueOrDefault(name.ToLowerInvariant());
}

/// <summary>
/// An HTTP server on loopback standing in for the cloud's HTTP API: it records every request whose body it received
/// completely (a request aborted half-way is counted in <see cref="Aborted"/>, not recorded) and answers 200.
/// </summary>
internal sealed class CloudSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SinkRequest> _requests = new();
    private int _aborted;

    private CloudSink(int port)
    {
        Port = port;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = null;
        });
        _app = builder.Build();
        _app.Run(ReceiveAsync);
    }

    public int Port { get; }
    public string Address => $"http://127.0.0.1:{Port}/";
    public IReadOnlyList<SinkRequest> Requests => [.. _requests];
    public int Aborted => Volatile.Read(ref _aborted);

    public static async Task<CloudSink> StartAsync()
    {
        var sink = new CloudSink(Loopback.FreePort());
        await sink._app.StartAsync();
        return sink;
    }

    public void Clear()
    {
        _requests.Clear();
        Interlocked.Exchange(ref _aborted, 0);
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        try
        {
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            Interlocked.Increment(ref _aborted);
            return;
        }
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        _requests.Enqueue(new SinkRequest(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "", headers, body.ToArray()));
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
