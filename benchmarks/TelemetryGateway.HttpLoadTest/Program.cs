using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

// HTTP ingress load benchmark: starts the gateway (a separate process) with one text-log route to a sink on
// loopback (in this process), uploads one large log built from the corpus's log lines, and reports throughput and
// the gateway's resident memory growth (from /proc/<pid>/status) during the upload.
//
// With --format jpeg the upload is one synthetic JPEG (headers, then entropy-coded bytes) through an image route: the
// walker only scans it for markers, so this measures the ingress's streaming path (Kestrel, pipes, YARP) itself.
//
//   dotnet run -c Release --project benchmarks/TelemetryGateway.HttpLoadTest -- [--size-mb 1024] [--format log|jpeg] [--gateway-dll PATH]
var sizeMb = 1024L;
var format = "log";
string? gatewayDll = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--size-mb" when i + 1 < args.Length:
            sizeMb = long.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--format" when i + 1 < args.Length && args[i + 1] is "log" or "jpeg":
            format = args[++i];
            break;
        case "--gateway-dll" when i + 1 < args.Length:
            gatewayDll = args[++i];
            break;
        default:
            Console.Error.WriteLine("usage: TelemetryGateway.HttpLoadTest [--size-mb N] [--format log|jpeg] [--gateway-dll PATH]");
            return 2;
    }
}
if (sizeMb is < 1 or > 16 * 1024)
{
    Console.Error.WriteLine("--size-mb must be between 1 and 16384");
    return 2;
}
gatewayDll ??= Path.Combine(RepositoryRoot(), "src", "TelemetryGateway.Host", "bin", "Release", "net10.0", "telemetry-gateway.dll");
if (!File.Exists(gatewayDll))
{
    Console.Error.WriteLine($"the gateway is not built: '{gatewayDll}' (dotnet build -c Release src/TelemetryGateway.Host)");
    return 2;
}

var jpeg = format == "jpeg";
var block = jpeg ? EntropyBlock() : LogBlock(Path.Combine(AppContext.BaseDirectory, "testdata", "messages.ndjson"));
var serial = "WK1DEGZD8PCF32ER";
var sink = new Sink();
await sink.StartAsync();
var httpPort = FreePort();
var dataDirectory = Directory.CreateTempSubdirectory("tg-http-load-").FullName;
const string ApiKey = "http-load-test-key";
var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)));
string[] arguments =
[
    gatewayDll,
    $"--Gateway:Mqtt:Port={FreePort()}",
    $"--Gateway:DataDirectory={dataDirectory}",
    "--Logging:LogLevel:Default=Warning",
    $"--Gateway:Http:Port={httpPort}",
    $"--Gateway:Http:ApiKeySha256:0={keyHash}",
    $"--ReverseProxy:Clusters:cloud:Destinations:sink:Address=http://127.0.0.1:{sink.Port}/",
    "--ReverseProxy:Routes:logs:ClusterId=cloud",
    "--ReverseProxy:Routes:logs:Match:Path=/api/logs/{sn}",
    "--ReverseProxy:Routes:logs:Transforms:0:PathSet=/ingest/logs",
    "--ReverseProxy:Routes:logs:Metadata:TelemetryGateway.Stream=log",
    "--ReverseProxy:Routes:photos:ClusterId=cloud",
    "--ReverseProxy:Routes:photos:Match:Path=/api/photos",
    "--ReverseProxy:Routes:photos:Transforms:0:PathSet=/ingest/photos",
    "--ReverseProxy:Routes:photos:Metadata:TelemetryGateway.Stream=installation-photos",
    $"--ReverseProxy:Routes:photos:Metadata:TelemetryGateway.MaxBodyBytes={17L * 1024 * 1024 * 1024}",
];
var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
foreach (var argument in arguments)
{
    start.ArgumentList.Add(argument);
}
using var gateway = Process.Start(start) ?? throw new InvalidOperationException("the gateway did not start");
var output = new StringBuilder();
gateway.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
gateway.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
gateway.BeginOutputReadLine();
gateway.BeginErrorReadLine();
try
{
    if (!await WaitForListenerAsync(httpPort, TimeSpan.FromSeconds(30)))
    {
        Console.Error.WriteLine($"the gateway did not listen on {httpPort}:\n{output}");
        return 1;
    }
    using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromMinutes(10) };
    client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);

    // Warm-up: JIT, pools and connections, so that the baseline is the gateway's steady state.
    await UploadAsync(client, serial, block, 32L * 1024 * 1024, jpeg);
    await Task.Delay(1000);
    var baseline = ReadStatus(gateway.Id, "VmRSS");
    var hwmBefore = ReadStatus(gateway.Id, "VmHWM");

    using var sampling = new CancellationTokenSource();
    var peak = baseline;
    var sampler = Task.Run(async () =>
    {
        while (!sampling.IsCancellationRequested)
        {
            peak = Math.Max(peak, ReadStatus(gateway.Id, "VmRSS"));
            await Task.Delay(20);
        }
    });
    sink.Reset();
    var totalBytes = sizeMb * 1024 * 1024 / block.Length * block.Length;
    var stopwatch = Stopwatch.StartNew();
    var status = await UploadAsync(client, serial, block, totalBytes, jpeg);
    stopwatch.Stop();
    await sampling.CancelAsync();
    await sampler;
    var hwmAfter = ReadStatus(gateway.Id, "VmHWM");

    var seconds = stopwatch.Elapsed.TotalSeconds;
    var mbPerSecond = totalBytes / (1024.0 * 1024.0) / seconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        HTTP ingress load: one {(jpeg ? "JPEG (synthetic, image route)" : "text log (text route, LogScrubber)")} upload through the gateway to a loopback sink
          machine:             {Environment.ProcessorCount} cores, .NET {Environment.Version}
          upload:              {totalBytes / (1024.0 * 1024.0):F0} MiB ({totalBytes} bytes, {(jpeg ? "synthetic JPEG" : "corpus log lines")}), status {status}
          received by sink:    {sink.Bytes / (1024.0 * 1024.0):F0} MiB scrubbed ({sink.Requests} request)
          time:                {seconds:F2} s
          throughput:          {mbPerSecond:F0} MiB/s = {totalBytes / 1e6 / seconds:F0} MB/s (upload bytes / wall time)
          gateway RSS:         baseline {baseline / 1024.0:F1} MiB, peak during upload {peak / 1024.0:F1} MiB
          peak RSS growth:     {(peak - baseline) / 1024.0:F1} MiB (sampled every 20 ms)
          VmHWM:               {hwmBefore / 1024.0:F1} MiB before, {hwmAfter / 1024.0:F1} MiB after (growth {(hwmAfter - hwmBefore) / 1024.0:F1} MiB)
        """));
    return status == HttpStatusCode.OK && sink.Bytes > 0 ? 0 : 1;
}
finally
{
    if (!gateway.HasExited)
    {
        gateway.Kill(entireProcessTree: true);
        await gateway.WaitForExitAsync();
    }
    await sink.DisposeAsync();
    Directory.Delete(dataDirectory, recursive: true);
}

static async Task<HttpStatusCode> UploadAsync(HttpClient client, string serial, byte[] block, long totalBytes, bool jpeg)
{
    Stream body = new RepeatingStream(block, totalBytes);
    if (jpeg)
    {
        // SOI, a minimal scan header, the entropy-coded bytes, EOI.
        byte[] head = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00];
        body = new ConcatenatedStream(head, body, [0xFF, 0xD9]);
        totalBytes += head.Length + 2;
    }
    using var content = new StreamContent(body, 256 * 1024);
    content.Headers.ContentType = new MediaTypeHeaderValue(jpeg ? "image/jpeg" : "text/plain");
    content.Headers.ContentLength = totalBytes;
    using var response = await client.PostAsync(jpeg ? "api/photos" : $"api/logs/{serial}", content);
    return response.StatusCode;
}

// Entropy-coded JPEG data: pseudo-random bytes with no 0xFF, so the walker copies them as they are.
static byte[] EntropyBlock()
{
    var block = new byte[64 * 1024];
    new Random(7).NextBytes(block);
    for (var i = 0; i < block.Length; i++)
    {
        if (block[i] == 0xFF)
        {
            block[i] = 0x7F;
        }
    }
    return block;
}

// The corpus's log payloads, concatenated: a block of realistic log lines to repeat.
static byte[] LogBlock(string corpusPath)
{
    var block = new MemoryStream();
    foreach (var line in File.ReadLines(corpusPath))
    {
        using var document = JsonDocument.Parse(line);
        if (document.RootElement.GetProperty("id").GetString()!.EndsWith("-log", StringComparison.Ordinal))
        {
            block.Write(Encoding.UTF8.GetBytes(document.RootElement.GetProperty("payloadText").GetString()!));
        }
    }
    return block.ToArray();
}

// One line of /proc/<pid>/status, in kB.
static long ReadStatus(int pid, string field)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith(field + ":", StringComparison.Ordinal))
        {
            return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        }
    }
    return 0;
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static async Task<bool> WaitForListenerAsync(int port, TimeSpan timeout)
{
    var deadline = DateTime.UtcNow + timeout;
    while (DateTime.UtcNow < deadline)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            await Task.Delay(100);
        }
    }
    return false;
}

static string RepositoryRoot()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TelemetryGateway.sln")))
    {
        directory = directory.Parent;
    }
    return directory?.FullName ?? Directory.GetCurrentDirectory();
}

/// <summary>The stand-in cloud: reads every body to the end, counts its bytes, keeps none.</summary>
internal sealed class Sink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _bytes;
    private int _requests;

    public Sink()
    {
        Port = FreePortFor();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, Port);
            k.Limits.MaxRequestBodySize = null;
        });
        _app = builder.Build();
        _app.Run(ReceiveAsync);
    }

    public int Port { get; }
    public long Bytes => Interlocked.Read(ref _bytes);
    public int Requests => Volatile.Read(ref _requests);

    public Task StartAsync() => _app.StartAsync();

    public void Reset()
    {
        Interlocked.Exchange(ref _bytes, 0);
        Interlocked.Exchange(ref _requests, 0);
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            Interlocked.Add(ref _bytes, read.Buffer.Length);
            reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
        Interlocked.Increment(ref _requests);
    }

    private static int FreePortFor()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A block repeated up to a total length, generated as it is read (bounded, never held whole).</summary>
internal sealed class RepeatingStream(byte[] block, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length && _position < length)
        {
            var inBlock = (int)(_position % block.Length);
            var take = (int)Math.Min(Math.Min(buffer.Length - written, block.Length - inBlock), length - _position);
            block.AsSpan(inBlock, take).CopyTo(buffer[written..]);
            written += take;
            _position += take;
        }
        return written;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A head, a body stream and a tail, read in order.</summary>
internal sealed class ConcatenatedStream(byte[] head, Stream body, byte[] tail) : Stream
{
    private int _headRead;
    private int _tailRead;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_headRead < head.Length)
        {
            var take = Math.Min(buffer.Length, head.Length - _headRead);
            head.AsSpan(_headRead, take).CopyTo(buffer);
            _headRead += take;
            return take;
        }
        var read = body.Read(buffer);
        if (read > 0)
        {
            return read;
        }
        var rest = Math.Min(buffer.Length, tail.Length - _tailRead);
        tail.AsSpan(_tailRead, rest).CopyTo(buffer);
        _tailRead += rest;
        return rest;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
