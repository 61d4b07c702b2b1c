using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using TelemetryGateway.Core.Tests.Images;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Http;

/// <summary>Uploads through a running gateway's HTTP ingress (YARP) to a stand-in cloud on loopback.</summary>
public sealed class HttpIngressTests(HttpIngressGateway fixture) : IClassFixture<HttpIngressGateway>, IDisposable
{
    private static readonly IReadOnlyList<CorpusMessage> s_commissioning =
        [.. Corpus.Messages.Where(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal))];

    [Fact]
    public async Task Commissioning_records_reach_the_cloud_without_any_never_canary()
    {
        using var client = fixture.Client();

        foreach (var message in s_commissioning)
        {
            using var response = await client.PostAsync("api/commissioning", Bodies.Json(message.Payload));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var received = fixture.Sink.Requests;
        Assert.Equal(s_commissioning.Count, received.Count);
        foreach (var canary in s_commissioning.SelectMany(m => m.Canaries).Where(c => c.IsNever))
        {
            Assert.DoesNotContain(received, r => CanaryScanner.Contains(r.Body, canary.Value) || CanaryScanner.Contains(Encoding.UTF8.GetBytes(string.Join('\n', r.Headers.Values)), canary.Value));
        }
    }

    [Fact]
    public async Task The_owner_contact_route_forwards_a_record_only_while_the_device_s_consent_for_after_sales_service_is_on_record()
    {
        var message = s_commissioning[0];
        var serial = message.Topic[(message.Topic.LastIndexOf('/') + 1)..];
        using var client = fixture.Client();
        await Loopback.WaitForListenerAsync(fixture.Gateway.AdminPort, TimeSpan.FromSeconds(30), () => fixture.Gateway.Output);
        using var admin = fixture.Gateway.AdminClient();
        var consent = new Uri($"/v1/devices/{serial}/consents/after-sales-service", UriKind.Relative);

        using var before = await client.PostAsync($"api/owner-contact/{serial}", Bodies.Json(message.Payload));
        using var granted = await admin.PutAsJsonAsync(consent, new { noticeVersion = "2025-09-26" });
        using var with = await client.PostAsync($"api/owner-contact/{serial}", Bodies.Json(message.Payload));
        using var withdrawn = await admin.DeleteAsync(new Uri($"{consent}?noticeVersion=2025-09-26", UriKind.Relative));
        using var after = await client.PostAsync($"api/owner-contact/{serial}", Bodies.Json(message.Payload));

        Assert.Equal(HttpStatusCode.Forbidden, before.StatusCode);
        Assert.Equal("purpose-refused", (await before.Content.ReadAsStringAsync()).Trim());
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withdrawn.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, after.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Equal("/ingest/owner-contact", request.Path);
        Assert.Equal("after-sales-service", request.Header("X-Purpose"));
        Assert.Equal("consent", request.Header("X-Legal-Basis"));
        using var owner = System.Text.Json.JsonDocument.Parse(message.Payload);
        var ownerEmail = owner.RootElement.GetProperty("owner").GetProperty("email").GetString()!;
        Assert.True(CanaryScanner.Contains(request.Body, ownerEmail), "the owner's e-mail must reach after-sales service with consent");
        Assert.Null(request.Header("X-Device-Serial"));
        var ownerContact = owner.RootElement.GetProperty("owner").EnumerateObject().Select(p => p.Value.ToString()).ToHashSet();
        foreach (var canary in message.Canaries.Where(c => c.IsNever && !ownerContact.Any(v => v.Contains(c.Value, StringComparison.Ordinal))))
        {
            Assert.False(CanaryScanner.Contains(request.Body, canary.Value), "a never-canary other than the owner's contact reached the owner-contact route's request");
        }
    }

    [Fact]
    public async Task Forwarded_request_carries_the_tags_of_the_purpose()
    {
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(s_commissioning[0].Payload));

        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Equal("/ingest/commissioning", request.Path);
        Assert.Equal("after-sales-service", request.Header("X-Purpose"));
        Assert.Equal("contract", request.Header("X-Legal-Basis"));
        Assert.Equal("account,network,device,owner", request.Header("X-Data-Categories"));
        Assert.StartsWith("solix-default@", request.Header("X-Policy"), StringComparison.Ordinal);
        Assert.Equal("P5Y", request.Header("X-Retention"));
        // Notice §7: the cluster is in the site's region (eea, by default), so no transfer and no safeguard.
        Assert.Equal("eea", request.Header("X-Destination-Region"));
        Assert.Equal("none", request.Header("X-Transfer-Safeguard"));
        Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_key_forwarded_for_and_query_string_do_not_reach_the_cloud()
    {
        using var client = fixture.Client();
        client.DefaultRequestHeaders.Add("Cookie", "session=Erika");
        client.DefaultRequestHeaders.Add("X-Device-Serial", "WK1DEGZD8PCF32ER");

        using var response = await client.PostAsync("api/commissioning?owner=Erika", Bodies.Json(s_commissioning[0].Payload));

        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Null(request.Header("X-Api-Key"));
        Assert.Null(request.Header("Cookie"));
        Assert.Null(request.Header("X-Device-Serial"));
        Assert.Null(request.Header("X-Forwarded-For"));
        Assert.Equal("", request.Query);
    }

    [Fact]
    public async Task Client_trace_context_and_baggage_do_not_reach_the_cloud()
    {
        using var client = fixture.Client();
        client.DefaultRequestHeaders.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        client.DefaultRequestHeaders.TryAddWithoutValidation("tracestate", "owner=erika.mustermann");
        client.DefaultRequestHeaders.TryAddWithoutValidation("baggage", "wifi.pass=Hunter2-canary,owner.email=erika%40example.com");
        client.DefaultRequestHeaders.TryAddWithoutValidation("Request-Id", "|0af7651916cd43dd8448eb211c80319c.b7ad6b7169203331.");
        client.DefaultRequestHeaders.TryAddWithoutValidation("Correlation-Context", "wifi.pass=Hunter2-canary");

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        // Only what the route names: its tags and the body's own headers (and the connection's Host).
        string[] named = ["host", "content-type", "content-length", "content-encoding", "transfer-encoding",
            "x-purpose", "x-legal-basis", "x-data-categories", "x-policy", "x-retention", "x-destination-region", "x-transfer-safeguard"];
        Assert.All(request.Headers.Keys, name => Assert.Contains(name, named));
        Assert.DoesNotContain("Hunter2-canary", string.Join('\n', request.Headers.Values), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gzip_body_is_decompressed_scrubbed_and_recompressed()
    {
        using var client = fixture.Client();
        var message = s_commissioning[1];
        using var content = new ByteArrayContent(Bodies.Gzip(message.Payload));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync("api/commissioning", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Equal("gzip", request.Header("Content-Encoding"));
        var body = Bodies.Gunzip(request.Body);
        Assert.StartsWith("{", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        foreach (var canary in message.Canaries.Where(c => c.IsNever))
        {
            Assert.False(CanaryScanner.Contains(body, canary.Value), "a never canary reached the cloud");
        }
    }

    [Fact]
    public async Task Jpeg_photo_reaches_the_cloud_without_metadata()
    {
        using var images = new TestImageFiles();
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/photos", Bodies.Content(images.Jpeg, "image/jpeg"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Empty(ImageTools.MetadataTags(ImageTools.Tags(images.Directory, request.Body, "jpg")));
        Assert.Equal(ImageTools.DecodeJpeg(images.Directory, images.Jpeg), ImageTools.DecodeJpeg(images.Directory, request.Body));
    }

    [Fact]
    public async Task Png_photo_reaches_the_cloud_without_metadata()
    {
        using var images = new TestImageFiles();
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/photos", Bodies.Content(images.Png, "image/png"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(fixture.Sink.Requests);
        Assert.Empty(ImageTools.MetadataTags(ImageTools.Tags(images.Directory, request.Body, "png")));
        Assert.Equal(ImageTools.ChunkData(images.Png, "IDAT"), ImageTools.ChunkData(request.Body, "IDAT"));
    }

    [Fact]
    public async Task Truncated_photo_is_rejected_with_422_and_never_reaches_the_cloud_complete()
    {
        using var images = new TestImageFiles();
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/photos", Bodies.Content(images.Jpeg[..^100], "image/jpeg"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Unknown_path_is_404()
    {
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/unknown", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Request_without_api_key_is_401()
    {
        using var client = fixture.Client(apiKey: null);

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Request_with_a_wrong_api_key_is_401()
    {
        using var client = fixture.Client(apiKey: "test-key-6f1c2a9f");

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Api_key_as_bearer_token_is_accepted()
    {
        using var client = fixture.Client(apiKey: null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", HttpIngressGateway.ApiKey);

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Body_over_the_route_limit_is_413()
    {
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/small", Bodies.Json(s_commissioning[0].Payload));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Chunked_body_over_the_route_limit_is_413()
    {
        using var client = fixture.Client();
        using var content = new StreamContent(new MemoryStream(s_commissioning[0].Payload));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/small") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Gzip_bomb_over_the_route_limit_is_413()
    {
        using var client = fixture.Client();
        // 4 MiB of spaces inside a JSON string compress to a few kB, under the commissioning route's 1 MiB limit.
        var json = Encoding.UTF8.GetBytes("{\"a\":\"" + new string(' ', 4 * 1024 * 1024) + "\"}");
        using var content = new ByteArrayContent(Bodies.Gzip(json));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync("api/commissioning", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Gzip_log_expanding_past_the_route_ratio_is_413_and_not_forwarded()
    {
        using var client = fixture.Client();
        // The probe's pattern, smaller: 64 MiB of log lines in a gzip body of well under 1 MiB, on a text route whose
        // body limit (4 GiB) it never reaches.
        var line = "2026-11-25T10:00:00Z INFO bms: cell balance ok, soc 87\n"u8.ToArray();
        var log = new byte[64 * 1024 * 1024];
        for (var offset = 0; offset < log.Length; offset += line.Length)
        {
            line.AsSpan(0, Math.Min(line.Length, log.Length - offset)).CopyTo(log.AsSpan(offset));
        }
        var compressed = Bodies.Gzip(log);
        using var content = Bodies.Text(compressed);
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync("api/logs/WK1DEGZD8PCF32ER", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
        Assert.True(await Loopback.EventuallyAsync(() => fixture.Gateway.Output.Contains("request rejected with 413 (gzip-ratio-exceeded)", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10)), fixture.Gateway.Output);
    }

    [Fact]
    public async Task Upload_slower_than_the_route_time_budget_is_408_and_not_forwarded()
    {
        using var client = fixture.Client();
        // Eight pieces 400 ms apart: 3.2 s against the route's 1 s budget.
        using var content = new Bodies.Slow("INFO slow line\n"u8.ToArray(), pieces: 8, pause: TimeSpan.FromMilliseconds(400));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");

        HttpStatusCode? status = null;
        try
        {
            using var response = await client.PostAsync("api/slow/WK1DEGZD8PCF32ER", content);
            status = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            // The gateway may close the connection before the client has finished sending.
        }

        Assert.True(status is null or HttpStatusCode.RequestTimeout, $"status {status}");
        Assert.True(await Loopback.EventuallyAsync(() => fixture.Gateway.Output.Contains("route slow: request rejected with 408 (time-budget-exceeded)", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10)), fixture.Gateway.Output);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Malformed_json_is_422_and_not_forwarded()
    {
        using var client = fixture.Client();
        var truncated = Corpus.Messages.Single(m => m.Id.EndsWith("-bad-truncated-json", StringComparison.Ordinal));

        using var response = await client.PostAsync("api/commissioning", Bodies.Json(truncated.Payload));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("malformed-json", (await response.Content.ReadAsStringAsync()).Trim());
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Malformed_gzip_is_422_and_not_forwarded()
    {
        using var client = fixture.Client();
        using var content = new ByteArrayContent([0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02, 0x03]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync("api/commissioning", content);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    [Fact]
    public async Task Photo_of_an_unsupported_type_is_415()
    {
        using var client = fixture.Client();

        using var response = await client.PostAsync("api/photos", Bodies.Content([0x47, 0x49, 0x46, 0x38], "image/gif"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Empty(fixture.Sink.Requests);
    }

    public void Dispose() => fixture.Sink.Clear();
}
