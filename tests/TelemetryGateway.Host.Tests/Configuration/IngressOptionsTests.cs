using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Host.Tests.Configuration;

public sealed class IngressOptionsTests
{
    private static GatewayOptions Options(IngressOptions ingress, string? upstream = "mqtt://127.0.0.1:1883", bool keyFile = true) =>
        new()
        {
            Policy = new PolicyOptions { Path = TestFiles.DefaultPolicy },
            Ingress = ingress,
            Upstream = new UpstreamOptions { Url = upstream },
            // Any existing file of at least 32 bytes serves as a key file for validation.
            Pseudonymization = new PseudonymizationOptions { KeyFile = keyFile ? TestFiles.DefaultPolicy : null },
        };

    [Fact]
    public void Workers_need_a_shared_key_file()
    {
        var errors = Options(new IngressOptions { Mode = "mqtt-shared", Url = "mqtt://127.0.0.1:1883" }, keyFile: false).Validate();

        Assert.Equal(["Gateway:Pseudonymization:KeyFile is required in ingress mode 'mqtt-shared': every worker must use the same key"], errors);
    }

    [Fact]
    public void The_default_is_the_site_broker_and_needs_no_upstream()
    {
        var options = Options(new IngressOptions(), upstream: null, keyFile: false);

        Assert.True(options.Ingress.IsSiteBroker);
        Assert.Empty(options.Validate());
    }

    [Fact]
    public void A_shared_subscription_worker_with_a_url_list_is_valid()
    {
        var ingress = new IngressOptions { Mode = "mqtt-shared", Url = "mqtt://10.0.0.1:1883, mqtts://10.0.0.2:8883", ClientId = "worker-1" };

        Assert.Empty(Options(ingress).Validate());
        Assert.Equal(2, ingress.Endpoints.Count);
        Assert.Equal("worker-1", ingress.EffectiveClientId("gw"));
    }

    [Fact]
    public void An_amqp_worker_needs_a_queue()
    {
        var errors = Options(new IngressOptions { Mode = "amqp", Url = "amqp://worker:secret@127.0.0.1:5672/%2f" }).Validate();

        Assert.Equal(["Gateway:Ingress:Queue is required in mode 'amqp'"], errors);
    }

    [Fact]
    public void The_client_id_defaults_to_the_gateway_id()
    {
        Assert.Equal("gw-7", new IngressOptions { Mode = "mqtt-shared" }.EffectiveClientId("gw-7"));
    }

    [Fact]
    public void An_unknown_mode_is_an_error()
    {
        var errors = Options(new IngressOptions { Mode = "kafka" }).Validate();

        Assert.Equal(["Gateway:Ingress:Mode must be 'site-broker', 'mqtt-shared' or 'amqp'"], errors);
    }

    [Fact]
    public void Every_ingress_error_is_reported_at_once()
    {
        var ingress = new IngressOptions
        {
            Mode = "mqtt-shared",
            Url = "amqp://127.0.0.1:5672, mqtt://user:pw@127.0.0.1:1883",
            Group = "a/b",
            ClientId = " ",
            Prefetch = 0,
            SessionExpiry = TimeSpan.FromSeconds(-1),
            Password = "pw",
        };

        var errors = Options(ingress, upstream: null).Validate();

        Assert.Equal(8, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:Url: entry 1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:Url: entry 2 must not carry credentials", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:Group", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:ClientId", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:Prefetch", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:SessionExpiry", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Ingress:Password", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("needs Gateway:Upstream:Url", StringComparison.Ordinal));
    }

    [Fact]
    public void An_amqp_url_is_never_echoed_in_an_error_as_it_carries_a_password()
    {
        var errors = Options(new IngressOptions { Mode = "amqp", Url = "http://worker:s3cret@127.0.0.1", Queue = "q" }).Validate();

        Assert.Single(errors);
        Assert.DoesNotContain("s3cret", errors[0], StringComparison.Ordinal);
    }
}
