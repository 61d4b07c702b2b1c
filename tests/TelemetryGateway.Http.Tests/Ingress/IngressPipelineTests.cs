using System.Buffers;
using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Ingress;
using TelemetryGateway.Http.Routing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace TelemetryGateway.Http.Tests.Ingress;

/// <summary>
/// One payload sent as an HTTP body through the ingress step and published as an MQTT message through the pipeline
/// gets the same minimized bytes and the same records of processing.
/// </summary>
public sealed class IngressPipelineTests
{
    private static readonly string s_policyPath = Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");
    private static readonly PseudonymizationKey s_key = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private const string Serial = "AZV6Y60D33200788";

    // A log with what the scrubber replaces, coarsens and pseudonymizes, and a line past the policy's line limit.
    private static readonly byte[] s_log = Encoding.UTF8.GetBytes(
        $"I boot sn={Serial} ip=192.168.17.42\n"
        + "I cloud: owner li.wei@example.net bound, gps 48.137361,11.575465\n"
        + "I wifi: psk=hunter4657!x auth=WPA2\n"
        + "D dump " + new string('x', 70_000) + "\n"
        + "I ok\n");

    // A commissioning record with fields the purpose keeps, coarsens and drops.
    private static readonly byte[] s_commissioning = Encoding.UTF8.GetBytes(
        $$$"""{"device":{"sn":"{{{Serial}}}","pn":"A17C0"},"installer":{"company":"Solar GmbH","name":"x","email":"x@example.net"},"owner":{"name":"y"},"wifi":{"ssid":"z","password":"p"},"install":{"latitude":48.137361,"longitude":11.575465,"photo":"b64"}}""");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_log_body_gets_the_bytes_and_records_the_same_log_gets_over_mqtt(bool gzip)
    {
        var (http, mqtt) = await BothAsync("log", $"dt/anker_power/A17C0/{Serial}/log", s_log, "text/plain", gzip);

        Assert.Equal(mqtt.Output, http.Output);
        Assert.Equal(mqtt.Records, http.Records);
        Assert.Equal(1, http.Records[(int)ProcessingAction.Forwarded]);
        Assert.Equal(1, http.Records[(int)ProcessingAction.Dropped]);
        Assert.True(http.Records[(int)ProcessingAction.Redacted] > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_commissioning_body_gets_the_bytes_and_records_the_same_record_gets_over_mqtt(bool gzip)
    {
        var (http, mqtt) = await BothAsync("commissioning", $"app/installer-1/commissioning/{Serial}", s_commissioning, "application/json", gzip);

        Assert.Equal(mqtt.Output, http.Output);
        Assert.Equal(mqtt.Records, http.Records);
        Assert.Equal(1, http.Records[(int)ProcessingAction.Forwarded]);
        Assert.True(http.Records[(int)ProcessingAction.Dropped] > 0);
        Assert.True(http.Records[(int)ProcessingAction.Coarsened] > 0);
    }

    [Theory]
    [InlineData("commissioning", "application/json")]
    [InlineData("log", "text/plain")]
    public async Task A_body_the_upstream_did_not_take_is_not_in_the_records(string stream, string contentType)
    {
        var ingress = Ingress(stream);

        var context = await ingress.SendAsync(stream == "log" ? s_log : s_commissioning, contentType, gzip: false, forwardFails: true);

        Assert.Equal(0, ingress.Counters.ForwardedCount(stream));
        Assert.All(Records(ingress.Purpose), count => Assert.Equal(0, count));
        Assert.NotNull(context.Features.Get<IForwarderErrorFeature>());
    }

    [Fact]
    public async Task A_malformed_body_is_rejected_and_not_in_the_records()
    {
        var ingress = Ingress("commissioning");

        var context = await ingress.SendAsync("""{"device":{"pn":"A1"""u8.ToArray(), "application/json", gzip: false);

        Assert.Equal(StatusCodes.Status422UnprocessableEntity, context.Response.StatusCode);
        Assert.Equal(1, ingress.Counters.RejectedCount("commissioning", StatusCodes.Status422UnprocessableEntity, "malformed-json"));
        Assert.Null(ingress.Forwarded);
        Assert.All(Records(ingress.Purpose), count => Assert.Equal(0, count));
    }

    [Fact]
    public async Task A_photo_route_refuses_a_body_that_does_not_declare_jpeg_or_png()
    {
        var ingress = Ingress("installation-photos");

        var context = await ingress.SendAsync([0x47, 0x49, 0x46, 0x38], "image/gif", gzip: false);

        Assert.Equal(StatusCodes.Status415UnsupportedMediaType, context.Response.StatusCode);
        Assert.Null(ingress.Forwarded);
    }

    [Fact]
    public async Task A_purpose_a_gate_refuses_is_403_counted_with_the_gate_s_action_and_not_forwarded()
    {
        var ingress = Ingress("commissioning", new RefuseAll());

        var context = await ingress.SendAsync(s_commissioning, "application/json", gzip: false);

        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Null(ingress.Forwarded);
        Assert.Equal(1, ingress.Purpose.Counters[ProcessingAction.Withheld]);
        Assert.Equal(0, ingress.Purpose.Counters[ProcessingAction.Forwarded]);
    }

    [Fact]
    public async Task The_owner_contact_route_forwards_only_for_a_device_with_consent_for_after_sales_service_the_bytes_mqtt_gets()
    {
        var consent = new OneConsent();
        var ingress = Ingress("commissioning", new ConsentGate(consent), "after-sales-owner-contact");

        var refused = await ingress.SendAsync(s_commissioning, "application/json", gzip: false);

        Assert.Equal(StatusCodes.Status403Forbidden, refused.Response.StatusCode);
        Assert.Null(ingress.Forwarded);
        Assert.Equal(1, ingress.Purpose.Counters[ProcessingAction.NoConsent]);

        consent.Granted = true;
        var forwarded = await ingress.SendAsync(s_commissioning, "application/json", gzip: false);

        Assert.Equal(StatusCodes.Status200OK, forwarded.Response.StatusCode);
        Assert.Equal($$$"""{"device":{"sn":"{{{Serial}}}","pn":"A17C0"},"owner":{"name":"y"}}""", Encoding.UTF8.GetString(ingress.Forwarded!));
        Assert.Equal(1, ingress.Purpose.Counters[ProcessingAction.Forwarded]);
        // The same record over MQTT with the same consent: its consent entry's output has the same bytes.
        using var minimizer = new Minimizer(PolicyCompiler.CompileFile(s_policyPath), s_key, consent);
        var outputs = minimizer.Minimize($"app/installer-1/commissioning/{Serial}", new ReadOnlySequence<byte>(s_commissioning)).Outputs.ToArray();
        Assert.Equal(ingress.Forwarded, outputs.Single(o => o.Tags.Name == "after-sales-owner-contact").Payload.ToArray());
    }

    [Fact]
    public void The_forwarded_headers_are_the_purpose_s_compiled_output_tags()
    {
        var tags = PolicyCompiler.CompileFile(s_policyPath).Streams.Single(s => s.Name == "commissioning").Purposes[0].OutputTags;
        using var request = new HttpRequestMessage();

        TagTransforms.AddTags(request.Headers, tags);

        Assert.Equal(tags.Purpose, request.Headers.GetValues(IngressHeaders.Purpose).Single());
        Assert.Equal(tags.LegalBasis, request.Headers.GetValues(IngressHeaders.LegalBasis).Single());
        Assert.Equal(tags.Categories, request.Headers.GetValues(IngressHeaders.DataCategories).Single());
        Assert.Equal(tags.Policy, request.Headers.GetValues(IngressHeaders.Policy).Single());
        Assert.Equal(tags.Retention, request.Headers.GetValues(IngressHeaders.Retention).Single());
    }

    private static async Task<((byte[] Output, long[] Records) Http, (byte[] Output, long[] Records) Mqtt)> BothAsync(
        string stream, string topic, byte[] payload, string contentType, bool gzip)
    {
        var ingress = Ingress(stream);
        var context = await ingress.SendAsync(payload, contentType, gzip);
        Assert.Equal(1, ingress.Counters.ForwardedCount(stream));
        var forwarded = gzip ? Gunzip(ingress.Forwarded!) : ingress.Forwarded!;

        // The same payload as a message, under a policy of its own so that its records start at zero too.
        var policy = PolicyCompiler.CompileFile(s_policyPath);
        using var minimizer = new Minimizer(policy, s_key);
        var result = minimizer.Minimize(topic, new ReadOnlySequence<byte>(payload));
        var output = Assert.Single(result.Outputs.ToArray());
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        return ((forwarded, Records(ingress.Purpose)), (output.Payload.ToArray(), Records(output.Tags)));
    }

    private static long[] Records(StreamPurpose purpose) => [.. Enum.GetValues<ProcessingAction>().Select(a => purpose.Counters[a])];

    private static byte[] Gunzip(byte[] body)
    {
        using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        using var plain = new MemoryStream();
        gzip.CopyTo(plain);
        return plain.ToArray();
    }

    private static byte[] Gzip(byte[] body)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(body);
        }
        return compressed.ToArray();
    }

    /// <summary>The ingress step for one route to <paramref name="stream"/> (device from <c>{sn}</c>), under a policy of its own.</summary>
    private static TestIngress Ingress(string stream, IPurposeGate? gate = null, string? entry = null)
    {
        // The commissioning stream has two entries (contract, and the owner's contact on consent): a route names one.
        entry ??= stream == "commissioning" ? "after-sales-service" : null;
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(
            [
                new($"ReverseProxy:Routes:{stream}:ClusterId", "cloud"),
                new($"ReverseProxy:Routes:{stream}:Match:Path", "/api/{sn}"),
                new($"ReverseProxy:Routes:{stream}:Transforms:0:PathSet", "/ingest"),
                new($"ReverseProxy:Routes:{stream}:Metadata:TelemetryGateway.Stream", stream),
                new($"ReverseProxy:Routes:{stream}:Metadata:TelemetryGateway.Purpose", entry),
                new("ReverseProxy:Clusters:cloud:Destinations:d:Address", "http://127.0.0.1:9/"),
            ])
            .Build();
        var section = configuration.GetSection("ReverseProxy");
        var generations = new PolicyGenerations(PolicyCompiler.CompileFile(s_policyPath));
        var (routes, errors) = IngressRouteCatalog.Build(section, generations.Current.Policy);
        Assert.Empty(errors);
        var http = new HttpIngressGenerations(generations, routes!, section, s_key, [gate ?? new ConsentGate(NoConsentRecorded.Instance)]);
        return new TestIngress(http, stream, routes!.Find(stream)!.Purpose);
    }

    /// <summary>The ingress middleware with a stand-in for YARP's forwarder that reads the body as the upstream would.</summary>
    private sealed class TestIngress(HttpIngressGenerations generations, string routeId, StreamPurpose purpose)
    {
        public IngressCounters Counters { get; } = new();
        public StreamPurpose Purpose => purpose;
        public byte[]? Forwarded { get; private set; }

        public async Task<HttpContext> SendAsync(byte[] payload, string contentType, bool gzip, bool forwardFails = false)
        {
            var context = new DefaultHttpContext();
            context.Request.Method = HttpMethods.Post;
            context.Request.ContentType = contentType;
            context.Request.RouteValues["sn"] = Serial;
            var body = gzip ? Gzip(payload) : payload;
            if (gzip)
            {
                context.Request.Headers.ContentEncoding = "gzip";
            }
            context.Request.Body = new MemoryStream(body);
            context.Request.ContentLength = body.Length;
            context.Features.Set<IReverseProxyFeature>(new ProxyFeature(new RouteModel(new Yarp.ReverseProxy.Configuration.RouteConfig { RouteId = routeId }, null, HttpTransformer.Empty)));
            var middleware = new IngressMiddleware(ForwardAsync, generations, Counters, NullLogger<IngressMiddleware>.Instance);
            await middleware.InvokeAsync(context);
            return context;

            async Task ForwardAsync(HttpContext forwarded)
            {
                using var upstream = new MemoryStream();
                await forwarded.Request.Body.CopyToAsync(upstream);
                if (forwardFails)
                {
                    forwarded.Features.Set<IForwarderErrorFeature>(new FailedForward());
                    return;
                }
                Forwarded = upstream.ToArray();
            }
        }
    }

    /// <summary>A gate that refuses every purpose (counted as withheld), standing in for the residency and objection gates to come.</summary>
    private sealed class RefuseAll : IPurposeGate
    {
        public ProcessingAction RefusalAction => ProcessingAction.Withheld;

        public bool Allows(StreamPurpose purpose, ReadOnlySpan<char> device) => false;
    }

    /// <summary>Consent for after-sales-service on record for the test's device once granted.</summary>
    private sealed class OneConsent : IConsentRegistry
    {
        public bool Granted { get; set; }

        public bool HasConsent(Core.Vocabulary.Purpose purpose, ReadOnlySpan<char> device) =>
            Granted && purpose == Core.Vocabulary.Purpose.AfterSalesService && device.SequenceEqual(Serial);
    }

    private sealed class ProxyFeature(RouteModel route) : IReverseProxyFeature
    {
        public RouteModel Route => route;
        public ClusterModel Cluster { get; set; } = null!;
        public IReadOnlyList<DestinationState> AllDestinations { get; set; } = [];
        public IReadOnlyList<DestinationState> AvailableDestinations { get; set; } = [];
        public DestinationState? ProxiedDestination { get; set; }
    }

    private sealed class FailedForward : IForwarderErrorFeature
    {
        public ForwarderError Error => ForwarderError.RequestBodyDestination;
        public Exception? Exception => null;
    }
}
