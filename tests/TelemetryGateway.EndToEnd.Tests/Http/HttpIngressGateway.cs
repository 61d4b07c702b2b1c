using System.Security.Cryptography;
using System.Text;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>
/// A gateway process whose HTTP ingress has YARP routes to a <see cref="CloudSink"/>: commissioning records (JSON),
/// installation photos (images), device logs (text, serial from the path), a JSON route with a tiny limit and a text route
/// with a 1 s time budget, all for the shipped policy's commissioning stream.
/// </summary>
public sealed class HttpIngressGateway : IAsyncLifetime, IDisposable
{
    public const string ApiKey = "test-key-6f1c2a9e";

    private readonly TempDirectory _temp = new();

    internal CloudSink Sink { get; private set; } = null!;
    internal GatewayProcess Gateway { get; private set; } = null!;
    public int HttpPort { get; } = Loopback.FreePort();

    public HttpClient Client(string? apiKey = ApiKey)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }
        return client;
    }

    public async Task InitializeAsync()
    {
        Sink = await CloudSink.StartAsync();
        var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)));
        Gateway = await GatewayProcess.StartAsync(_temp.DataDirectory, [.. Settings(Sink.Address, HttpPort, keyHash, _temp.KeyFile)]);
        await Loopback.WaitForListenerAsync(HttpPort, TimeSpan.FromSeconds(30), () => Gateway.Output);
    }

    internal static IEnumerable<string> Settings(string sinkAddress, int httpPort, string keyHash, string keyFile)
    {
        yield return $"--Gateway:Pseudonymization:KeyFile={keyFile}";
        yield return $"--Gateway:Http:Port={httpPort}";
        yield return $"--Gateway:Http:ApiKeySha256:0={keyHash}";
        yield return $"--ReverseProxy:Clusters:cloud:Destinations:sink:Address={sinkAddress}";
        foreach (var setting in Route("commissioning", "/api/commissioning", "/ingest/commissioning", "json", null))
        {
            yield return setting;
        }
        foreach (var setting in Route("photos", "/api/photos", "/ingest/photos", "image", null))
        {
            yield return setting;
        }
        foreach (var setting in Route("logs", "/api/logs/{sn}", "/ingest/logs", "text", null))
        {
            yield return setting;
        }
        foreach (var setting in Route("small", "/api/small", "/ingest/small", "json", 64))
        {
            yield return setting;
        }
        foreach (var setting in Route("slow", "/api/slow/{sn}", "/ingest/slow", "text", null))
        {
            yield return setting;
        }
        yield return "--ReverseProxy:Routes:slow:Metadata:TelemetryGateway.MaxRequestSeconds=1";
    }

    private static IEnumerable<string> Route(string id, string path, string forwardedPath, string format, long? maxBodyBytes)
    {
        var prefix = $"--ReverseProxy:Routes:{id}";
        yield return $"{prefix}:ClusterId=cloud";
        yield return $"{prefix}:Match:Path={path}";
        yield return $"{prefix}:Transforms:0:PathSet={forwardedPath}";
        yield return $"{prefix}:Metadata:TelemetryGateway.Stream=commissioning";
        yield return $"{prefix}:Metadata:TelemetryGateway.BodyFormat={format}";
        if (maxBodyBytes is { } limit)
        {
            yield return $"{prefix}:Metadata:TelemetryGateway.MaxBodyBytes={limit}";
        }
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Sink.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}
