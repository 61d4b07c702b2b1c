using Microsoft.Extensions.Configuration;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Configuration;

/// <summary><c>Gateway:Upstream:Batch</c>: known to the shape check, bound, off by default, every error reported at once.</summary>
public sealed class UpstreamBatchOptionsTests
{
    private static (GatewayOptions Options, IReadOnlyList<string> ShapeErrors) Bind(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        var section = configuration.GetSection(GatewayOptions.SectionName);
        var shape = ConfigurationShape.Check(section);
        var options = shape.Count == 0 ? section.Get<GatewayOptions>() ?? new GatewayOptions() : new GatewayOptions();
        return (options with { Policy = new PolicyOptions { Path = TestFiles.DefaultPolicy } }, shape);
    }

    [Fact]
    public void Batching_is_off_by_default_with_a_5_ms_linger_64_outputs_and_256_KiB()
    {
        var batch = new GatewayOptions().Upstream.Batch;

        Assert.Equal((false, TimeSpan.FromMilliseconds(5), 64, 256 * 1024), (batch.Enabled, batch.Linger, batch.MaxOutputs, batch.MaxBytes));
    }

    [Fact]
    public void The_batch_section_binds_and_validates_behind_an_mqtt_upstream()
    {
        var (options, shape) = Bind(
            ("Gateway:Upstream:Url", "mqtt://cloud.example:1883"),
            ("Gateway:Upstream:Batch:Enabled", "true"),
            ("Gateway:Upstream:Batch:Linger", "00:00:00.010"),
            ("Gateway:Upstream:Batch:MaxOutputs", "128"),
            ("Gateway:Upstream:Batch:MaxBytes", "65536"));

        Assert.Empty(shape);
        Assert.Empty(options.Validate());
        Assert.Equal((true, TimeSpan.FromMilliseconds(10), 128, 65536),
            (options.Upstream.Batch.Enabled, options.Upstream.Batch.Linger, options.Upstream.Batch.MaxOutputs, options.Upstream.Batch.MaxBytes));
        // Named upstreams share it, as they share the other delivery settings.
        Assert.True(Assert.Single(options.Routes).Options.Batch.Enabled);
    }

    [Fact]
    public void A_misspelt_or_mistyped_batch_setting_is_a_shape_error()
    {
        var (_, shape) = Bind(("Gateway:Upstream:Batch:Linger", "5ms"), ("Gateway:Upstream:Batch:MaxOutput", "10"), ("Gateway:Upstream:Batch:Enabled", "yes"));

        Assert.Equal(3, shape.Count);
        Assert.Contains(shape, e => e.StartsWith("Gateway:Upstream:Batch:Linger: '5ms' is not a duration", StringComparison.Ordinal));
        Assert.Contains(shape, e => e.StartsWith("Gateway:Upstream:Batch:MaxOutput: unknown setting", StringComparison.Ordinal) && e.Contains("MaxOutputs", StringComparison.Ordinal));
        Assert.Contains("Gateway:Upstream:Batch:Enabled: 'yes' is not true or false", shape);
    }

    [Fact]
    public void Every_batch_error_is_reported_at_once()
    {
        var (options, shape) = Bind(
            ("Gateway:Upstream:Url", "mqtt://cloud.example:1883"),
            ("Gateway:Upstream:Envelope", "none"),
            ("Gateway:Upstream:Batch:Enabled", "true"),
            ("Gateway:Upstream:Batch:Linger", "00:00:00"),
            ("Gateway:Upstream:Batch:MaxOutputs", "1"),
            ("Gateway:Upstream:Batch:MaxBytes", "100000000"));

        Assert.Empty(shape);
        var errors = options.Validate();
        Assert.Contains("Gateway:Upstream:Batch:Linger must be positive and at most 1 second (00:00:01)", errors);
        Assert.Contains("Gateway:Upstream:Batch:MaxOutputs must be between 2 and 4096", errors);
        Assert.Contains("Gateway:Upstream:Batch:MaxBytes must be between 1024 and 16777216 (16 MiB)", errors);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstream:Batch:Enabled needs Gateway:Upstream:Envelope 'protobuf'", StringComparison.Ordinal));
    }

    [Fact]
    public void Batching_needs_a_cloud_mqtt_upstream()
    {
        var (local, _) = Bind(("Gateway:Upstream:Batch:Enabled", "true"));
        Assert.Contains(local.Validate(), e => e.StartsWith("Gateway:Upstream:Batch:Enabled needs a cloud upstream", StringComparison.Ordinal));

        var (amqp, _) = Bind(
            ("Gateway:Ingress:Mode", "amqp"),
            ("Gateway:Upstream:Url", "amqp://user:pass@rabbit.example:5672/site"),
            ("Gateway:Upstream:Exchange", "telemetry"),
            ("Gateway:Upstream:Batch:Enabled", "true"));
        var errors = amqp.Validate();
        Assert.Contains("Gateway:Upstream:Batch:Enabled needs an mqtt:// or mqtts:// upstream; an AMQP exchange gets outputs one by one", errors);
        Assert.DoesNotContain(errors, e => e.Contains("user:pass", StringComparison.Ordinal));

        var (regional, _) = Bind(
            ("Gateway:Upstreams:eu:Url", "mqtt://eu.example:1883"),
            ("Gateway:Upstreams:eu:Region", "eea"),
            ("Gateway:Upstream:Batch:Enabled", "true"));
        Assert.Empty(regional.Validate());
    }
}
