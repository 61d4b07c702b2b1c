using System.Security.Cryptography;
using System.Text;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>
/// A gateway process whose HTTP ingress has YARP routes to a <see cref="CloudSink"/>, each feeding a stream of the
/// shipped policy, whose format decides how its bodies are minimized: commissioning records (JSON), installation photos
/// (images), device logs (text, serial from the path), the commissioning record's owner contact (the consent entry), a commissioning route with a tiny limit and a log route with a
/// 1 s time budget.
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
        foreach (var setting in Route("commissioning", "/api/commissioning", "/ingest/commissioning", "commissioning", null, "after-sales-service"))
        {
            yield return setting;
        }
        // The same commissioning record's owner contact, for after-sales service with the owner's consent (the device from {sn}).
        foreach (var setting in Route("owner-contact", "/api/owner-contact/{sn}", "/ingest/owner-contact", "commissioning", null, "after-sales-owner-contact"))
        {
            yield return setting;
        }
        foreach (var setting in Route("photos", "/api/photos", "/ingest/photos", "installation-photos", null))
        {
            yield return setting;
        }
        foreach (var setting in Route("logs", "/api/logs/{sn}", "/ingest/logs", "log", null))
        {
            yield return setting;
        }
        foreach (var setting in Route("small", "/api/small", "/ingest/small", "commissioning", 64, "after-sales-service"))
        {
            yield return setting;
        }
        foreach (var setting in Route("slow", "/api/slow/{sn}", "/ingest/slow", "log", null))
        {
            yield return setting;
        }
        yield return "--ReverseProxy:Routes:slow:Metadata:TelemetryGateway.MaxRequestSeconds=1";
    }

    private static IEnumerable<string> Route(string id, string path, string forwardedPath, string stream, long? maxBodyBytes, string? entry = null)
    {
        var prefix = $"--ReverseProxy:Routes:{id}";
        yield return $"{prefix}:ClusterId=cloud";
        yield return $"{prefix}:Match:Path={path}";
        yield return $"{prefix}:Transforms:0:PathSet={forwardedPath}";
        yield return $"{prefix}:Metadata:TelemetryGateway.Stream={stream}";
        if (entry is not null)
        {
            yield return $"{prefix}:Metadata:TelemetryGateway.Purpose={entry}";
        }
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
