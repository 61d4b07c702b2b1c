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
    public void An_amqp_worker_may_publish_to_an_exchange_on_its_cluster()
    {
        var options = Options(AmqpWorker("worker-2"), upstream: "amqp://worker:s3cret@10.0.0.1:5672/%2f, amqp://worker:s3cret@10.0.0.2:5672/%2f") with
        {
            Upstream = new UpstreamOptions { Url = "amqp://worker:s3cret@10.0.0.1:5672/%2f, amqp://worker:s3cret@10.0.0.2:5672/%2f", Exchange = "telemetry.out" },
        };

        Assert.Empty(options.Validate());
        Assert.True(options.Upstream.IsAmqp);
        Assert.Equal(2, options.Upstream.AmqpEndpoints.Count);
    }

    [Fact]
    public void An_amqp_upstream_needs_an_exchange_and_the_amqp_ingress_and_never_echoes_its_password()
    {
        var options = Options(new IngressOptions { Mode = "mqtt-shared", Url = "mqtt://127.0.0.1:1883", ClientId = "worker-1" }) with
        {
            Upstream = new UpstreamOptions { Url = "amqp://worker:s3cret@10.0.0.1:5672/%2f", Username = "u" },
        };

        var errors = options.Validate();

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstream:Exchange is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstream:Username and Password are not used", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("needs ingress mode 'amqp'", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain("s3cret", e, StringComparison.Ordinal));
    }

    [Fact]
    public void An_exchange_with_an_mqtt_upstream_is_an_error()
    {
        var options = Options(AmqpWorker("worker-1")) with { Upstream = new UpstreamOptions { Url = "mqtt://127.0.0.1:1883", Exchange = "x" } };

        Assert.Equal(["Gateway:Upstream:Exchange needs an amqp:// URL"], options.Validate());
    }

    [Fact]
    public void A_workers_upstream_client_id_left_at_the_default_is_derived_from_its_own_client_id()
    {
        var first = Options(AmqpWorker("worker-1"));
        var second = Options(AmqpWorker("worker-2"));

        Assert.Empty(first.Validate());
        Assert.Equal("worker-1-upstream", first.MqttSettings.Upstream.ClientId);
        Assert.Equal("worker-2-upstream", second.MqttSettings.Upstream.ClientId);
        // Without an ingress client id, the gateway id is the worker's own.
        Assert.Equal("gw-9-upstream", (Options(new IngressOptions { Mode = "mqtt-shared", Url = "mqtt://127.0.0.1:1883" }) with { GatewayId = "gw-9" }).MqttSettings.Upstream.ClientId);
        // The site broker keeps its configured (default) id.
        Assert.Equal("telemetry-gateway", Options(new IngressOptions(), keyFile: false).MqttSettings.Upstream.ClientId);
    }

    [Fact]
    public void A_workers_upstream_client_id_set_without_its_own_client_id_is_an_error()
    {
        var copied = Options(AmqpWorker("worker-1")) with { Upstream = new UpstreamOptions { Url = "mqtt://127.0.0.1:1883", ClientId = "regional-tier" } };
        var own = Options(AmqpWorker("worker-1")) with { Upstream = new UpstreamOptions { Url = "mqtt://127.0.0.1:1883", ClientId = "eu-worker-1-cloud" } };

        var error = Assert.Single(copied.Validate());
        Assert.StartsWith("Gateway:Upstream:ClientId must contain the worker's own client id", error, StringComparison.Ordinal);
        Assert.Empty(own.Validate());
        Assert.Equal("eu-worker-1-cloud", own.MqttSettings.Upstream.ClientId);
    }

    [Fact]
    public void The_redelivery_bound_is_validated()
    {
        var errors = Options(AmqpWorker("worker-1") with { MaxDeliveries = 0 }).Validate();

        Assert.Equal(["Gateway:Ingress:MaxDeliveries must be between 1 and 1000"], errors);
    }

    private static IngressOptions AmqpWorker(string clientId) =>
        new() { Mode = "amqp", Url = "amqp://worker:secret@127.0.0.1:5672/%2f", Queue = "telemetry", ClientId = clientId };

    [Fact]
    public void An_amqp_url_is_never_echoed_in_an_error_as_it_carries_a_password()
    {
        var errors = Options(new IngressOptions { Mode = "amqp", Url = "http://worker:s3cret@127.0.0.1", Queue = "q" }).Validate();

        Assert.Single(errors);
        Assert.DoesNotContain("s3cret", errors[0], StringComparison.Ordinal);
    }
}
