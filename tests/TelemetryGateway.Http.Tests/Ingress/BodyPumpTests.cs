using System.IO.Compression;
using System.IO.Pipelines;
using System.Text;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Ingress;

namespace TelemetryGateway.Http.Tests.Ingress;

public sealed class BodyPumpTests
{
    private static readonly PseudonymizationKey s_key = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly CompiledPolicy s_policy = PolicyCompiler.CompileFile(Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json"));

    /// <summary>A minimizer with a log body of the shipped policy's log stream begun (device SN1).</summary>
    private static Minimizer LogMinimizer()
    {
        var minimizer = new Minimizer(s_policy, s_key);
        var stream = s_policy.Streams.Single(s => s.Name == "log");
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));
        return minimizer;
    }

    [Fact]
    public async Task Scrubs_a_log_that_arrives_in_many_small_writes()
    {
        var log = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("I cloud: owner li.wei@example.net bound\n", 200)));

        var (output, rejection) = await PumpAsync(log, writeSize: 7, compress: false, maxBytes: 1 << 20);

        Assert.Null(rejection);
        var text = Encoding.UTF8.GetString(output);
        Assert.DoesNotContain("li.wei@example.net", text, StringComparison.Ordinal);
        Assert.Equal(200, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Compressed_output_decompresses_to_the_scrubbed_log()
    {
        var log = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("I wifi: psk=hunter4657!x auth=WPA2\n", 100)));

        var (plain, _) = await PumpAsync(log, writeSize: 4096, compress: false, maxBytes: 1 << 20);
        var (compressed, rejection) = await PumpAsync(log, writeSize: 4096, compress: true, maxBytes: 1 << 20);

        Assert.Null(rejection);
        using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var decompressed = new MemoryStream();
        await gzip.CopyToAsync(decompressed);
        Assert.Equal(plain, decompressed.ToArray());
    }

    [Fact]
    public async Task Rejects_a_body_over_the_limit_as_too_large()
    {
        var log = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("I ok\n", 1000)));

        var (_, rejection) = await PumpAsync(log, writeSize: 100, compress: false, maxBytes: 1000);

        Assert.Equal(BodyRejection.TooLarge, rejection);
    }

    [Fact]
    public async Task Rejects_invalid_utf8_as_unprocessable()
    {
        byte[] log = [.. "I ok\n"u8, 0xC3, 0x28, .. "\n"u8];

        var (_, rejection) = await PumpAsync(log, writeSize: 3, compress: false, maxBytes: 1000);

        Assert.Equal(BodyRejection.Unprocessable("invalid-utf8"), rejection);
    }

    [Fact]
    public async Task Rejection_reaches_the_forwarded_body_as_an_error()
    {
        byte[] log = [.. "I ok\n"u8, 0xC3, 0x28, .. "\n"u8];
        var source = new Pipe();
        var destination = new Pipe(BodyPump.PipeOptions);
        using var minimizer = LogMinimizer();
        await source.Writer.WriteAsync(log);
        await source.Writer.CompleteAsync();

        await BodyPump.RunAsync(source.Reader, minimizer, destination.Writer, compress: false, maxBytes: 1000, CancellationToken.None);

        await Assert.ThrowsAsync<BodyRejectedException>(async () => await destination.Reader.AsStream().CopyToAsync(Stream.Null));
    }

    private static async Task<(byte[] Output, BodyRejection? Rejection)> PumpAsync(byte[] body, int writeSize, bool compress, long maxBytes)
    {
        var source = new Pipe();
        var destination = new Pipe(BodyPump.PipeOptions);
        using var minimizer = LogMinimizer();
        var pump = BodyPump.RunAsync(source.Reader, minimizer, destination.Writer, compress, maxBytes, CancellationToken.None);
        var collect = Task.Run(async () =>
        {
            using var output = new MemoryStream();
            try
            {
                await destination.Reader.AsStream().CopyToAsync(output);
            }
            catch (BodyRejectedException)
            {
                // The rejection is what the pump returns.
            }
            return output.ToArray();
        });
        for (var offset = 0; offset < body.Length; offset += writeSize)
        {
            var flush = await source.Writer.WriteAsync(body.AsMemory(offset, Math.Min(writeSize, body.Length - offset)));
            if (flush.IsCompleted)
            {
                break;
            }
        }
        await source.Writer.CompleteAsync();
        var rejection = await pump;
        return (await collect, rejection);
    }
}
