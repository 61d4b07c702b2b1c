using System.Net;
using System.Net.Http.Headers;
using System.Text;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>Device log uploads through a running gateway's HTTP ingress, scrubbed while they stream.</summary>
public sealed class LogUploadTests(HttpIngressGateway fixture) : IClassFixture<HttpIngressGateway>, IDisposable
{
    private static readonly IReadOnlyList<CorpusMessage> s_logs =
        [.. Corpus.Messages.Where(m => m.Id.EndsWith("-log", StringComparison.Ordinal))];

    [Fact]
    public async Task Corpus_logs_reach_the_cloud_without_any_never_canary()
    {
        using var client = fixture.Client();

        foreach (var log in s_logs)
        {
            using var response = await client.PostAsync($"api/logs/{Serial(log)}", Bodies.Text(log.Payload));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var received = fixture.Sink.Requests;
        Assert.Equal(s_logs.Count, received.Count);
        Assert.All(received, r => Assert.Equal("/ingest/logs", r.Path));
        foreach (var canary in s_logs.SelectMany(m => m.Canaries).Where(c => c.IsNever))
        {
            Assert.DoesNotContain(received, r => CanaryScanner.Contains(r.Body, canary.Value));
        }
        Assert.DoesNotContain(Serial(s_logs[0]), fixture.Gateway.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Device_serial_from_the_path_is_pseudonymized_in_the_log()
    {
        using var client = fixture.Client();
        var log = s_logs[0];
        var serial = Serial(log);

        using var response = await client.PostAsync($"api/logs/{serial}", Bodies.Text(Encoding.UTF8.GetBytes($"INFO boot sn={serial} ok\n")));

        var request = Assert.Single(fixture.Sink.Requests);
        var text = Encoding.UTF8.GetString(request.Body);
        Assert.DoesNotContain(serial, text, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("INFO boot sn=", text, StringComparison.Ordinal);
        Assert.Equal("diagnostics", request.Header("X-Purpose"));
    }

    [Fact]
    public async Task Gzip_log_is_scrubbed_and_recompressed()
    {
        using var client = fixture.Client();
        var log = s_logs[1];
        using var content = new ByteArrayContent(Bodies.Gzip(log.Payload));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync($"api/logs/{Serial(log)}", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Equal("gzip", request.Header("Content-Encoding"));
        var body = Bodies.Gunzip(request.Body);
        Assert.NotEmpty(body);
        foreach (var canary in log.Canaries.Where(c => c.IsNever))
        {
            Assert.False(CanaryScanner.Contains(body, canary.Value), "a never canary reached the cloud");
        }
    }

    [Fact]
    public async Task Large_chunked_log_streams_through_scrubbed()
    {
        using var client = fixture.Client();
        var log = s_logs[2];
        const int Copies = 20_000;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/logs/{Serial(log)}")
        {
            Content = new StreamContent(new RepeatingStream(log.Payload, Copies)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(fixture.Sink.Requests);
        var lines = Encoding.UTF8.GetString(received.Body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Copies * Encoding.UTF8.GetString(log.Payload).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, lines.Length);
        foreach (var canary in log.Canaries.Where(c => c.IsNever))
        {
            Assert.False(CanaryScanner.Contains(received.Body, canary.Value), "a never canary reached the cloud");
        }
    }

    [Fact]
    public async Task Log_with_invalid_utf8_is_422_and_never_reaches_the_cloud_complete()
    {
        using var client = fixture.Client();
        var log = s_logs[0];

        using var response = await client.PostAsync($"api/logs/{Serial(log)}", Bodies.Text([.. "INFO ok\n"u8, 0xC3, 0x28, .. "\n"u8]));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Log_without_a_usable_device_serial_is_400()
    {
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/logs/not%20a%20serial", Bodies.Text("INFO ok\n"u8.ToArray()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    /// <summary>The serial the corpus message's topic names (dt/anker_power/{pn}/{sn}/log).</summary>
    private static string Serial(CorpusMessage log) => log.Topic.Split('/')[3];

    public void Dispose() => fixture.Sink.Clear();

    /// <summary>The same block <paramref name="copies"/> times, without holding them all.</summary>
    private sealed class RepeatingStream(byte[] block, int copies) : Stream
    {
        private long _position;
        private readonly long _length = (long)block.Length * copies;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var written = 0;
            while (written < count && _position < _length)
            {
                var inBlock = (int)(_position % block.Length);
                var take = Math.Min(count - written, block.Length - inBlock);
                Array.Copy(block, inBlock, buffer, offset + written, take);
                written += take;
                _position += take;
            }
            return written;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
