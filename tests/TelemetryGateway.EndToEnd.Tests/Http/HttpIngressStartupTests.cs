using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>How the HTTP ingress starts: validated configuration, either MQTT transport, off without routes.</summary>
public sealed class HttpIngressStartupTests
{
    [Fact]
    public async Task Gateway_refuses_to_start_and_lists_every_route_error_at_once()
    {
        using var temp = new TempDirectory();
        string[] arguments =
        [
            GatewayProcess.Dll,
            $"--Gateway:Mqtt:Port={Loopback.FreePort()}",
            $"--Gateway:DataDirectory={temp.DataDirectory}",
            $"--Gateway:Policy:Path={GatewayProcess.Policy}",
            $"--Gateway:Http:Port={Loopback.FreePort()}",
            "--ReverseProxy:Clusters:cloud:Destinations:sink:Address=http://127.0.0.1:9/",
            "--ReverseProxy:Routes:a:ClusterId=cloud",
            "--ReverseProxy:Routes:a:Match:Path=/a",
            "--ReverseProxy:Routes:a:Metadata:TelemetryGateway.Stream=no-such-stream",
            "--ReverseProxy:Routes:b:ClusterId=cloud",
            "--ReverseProxy:Routes:b:Match:Path=/b",
            "--ReverseProxy:Routes:b:Metadata:TelemetryGateway.Stream=commissioning",
            "--ReverseProxy:Routes:b:Metadata:TelemetryGateway.Purpose=marketing",
        ];

        var (exitCode, output) = await RunToExitAsync(arguments);

        Assert.Equal(2, exitCode);
        Assert.Contains("3 error(s)", output, StringComparison.Ordinal);
        Assert.Contains("'no-such-stream' is not a stream", output, StringComparison.Ordinal);
        Assert.Contains("'marketing' is not a purpose of stream 'commissioning'", output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Http: api-key authentication needs", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_ingress_runs_with_the_tcp_mqtt_transport()
    {
        using var temp = new TempDirectory();
        await using var sink = await CloudSink.StartAsync();
        var httpPort = Loopback.FreePort();
        var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(HttpIngressGateway.ApiKey)));
        await using var gateway = await GatewayProcess.StartAsync(
            temp.DataDirectory, [.. HttpIngressGateway.Settings(sink.Address, httpPort, keyHash, temp.KeyFile), "--Gateway:Mqtt:Transport=tcp"]);
        await Loopback.WaitForListenerAsync(httpPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/") };
        client.DefaultRequestHeaders.Add("X-Api-Key", HttpIngressGateway.ApiKey);
        var record = Corpus.Messages.First(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal));
        using var content = new ByteArrayContent(record.Payload);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync("api/commissioning", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(sink.Requests);
    }

    [Fact]
    public async Task No_http_listener_without_routes()
    {
        using var temp = new TempDirectory();
        var httpPort = Loopback.FreePort();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Http:Port={httpPort}");

        using var client = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, httpPort));
    }

    [Fact]
    public async Task Rejections_are_counted_per_route_and_reason_in_the_stop_log()
    {
        using var temp = new TempDirectory();
        await using var sink = await CloudSink.StartAsync();
        var httpPort = Loopback.FreePort();
        var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(HttpIngressGateway.ApiKey)));
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, [.. HttpIngressGateway.Settings(sink.Address, httpPort, keyHash, temp.KeyFile)]);
        await Loopback.WaitForListenerAsync(httpPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/") };
        client.DefaultRequestHeaders.Add("X-Api-Key", HttpIngressGateway.ApiKey);
        for (var i = 0; i < 2; i++)
        {
            using var content = new ByteArrayContent("{\"device\":"u8.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.PostAsync("api/commissioning", content);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        }

        Assert.Equal(0, await gateway.StopAsync());

        Assert.Contains("HTTP ingress route commissioning: 2 requests rejected with 422 (malformed-json)", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_uploaded_log_and_the_same_log_published_over_mqtt_get_the_same_records_of_processing()
    {
        var log = Corpus.Messages.First(m => m.Id.EndsWith("-log", StringComparison.Ordinal));

        var overHttp = await RecordsOfOneLogAsync(log, async (gateway, httpPort) =>
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/") };
            client.DefaultRequestHeaders.Add("X-Api-Key", HttpIngressGateway.ApiKey);
            using var content = new ByteArrayContent(log.Payload);
            content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
            using var response = await client.PostAsync($"api/logs/{log.Topic.Split('/')[3]}", content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        var overMqtt = await RecordsOfOneLogAsync(log, async (gateway, _) =>
        {
            await using var device = await Client.ConnectAsync(gateway.Port, "device-1");
            Assert.True((await device.PublishAsync(log.Topic, log.Payload)).IsSuccess);
        });

        Assert.Matches(@"stream log, purpose diagnostics \(legitimate-interest\): 1 outputs; fields dropped \d+, hashed [1-9]", overHttp);
        Assert.Equal(overMqtt, overHttp);
    }

    /// <summary>The log's stream's records-of-processing line at stop, after <paramref name="send"/> sent it once.</summary>
    private static async Task<string> RecordsOfOneLogAsync(CorpusMessage log, Func<GatewayProcess, int, Task> send)
    {
        using var temp = new TempDirectory();
        await using var sink = await CloudSink.StartAsync();
        var httpPort = Loopback.FreePort();
        var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(HttpIngressGateway.ApiKey)));
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, [.. HttpIngressGateway.Settings(sink.Address, httpPort, keyHash, temp.KeyFile)]);
        await Loopback.WaitForListenerAsync(httpPort, TimeSpan.FromSeconds(30), () => gateway.Output);

        await send(gateway, httpPort);

        Assert.Equal(0, await gateway.StopAsync());
        var records = Regex.Match(gateway.Output, @"Records of processing: stream log, [^\r\n]*");
        Assert.True(records.Success, gateway.Output);
        Assert.Equal("log", log.Topic.Split('/')[4]);
        return records.Value;
    }

    private static async Task<(int ExitCode, string Output)> RunToExitAsync(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output + await error);
    }
}
