using System.Text.Json;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Security;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Metrics;

/// <summary>
/// A real Prometheus scrapes a gateway that forwards a known workload to a mosquitto upstream: the values it stores
/// match the workload, the exposition passes <c>promtool check metrics</c>, and every panel of the shipped Grafana
/// dashboard returns data.
/// </summary>
public sealed class PrometheusScrapeTests(ScrapedWorkload workload) : IClassFixture<ScrapedWorkload>
{
    private const int Good = ScrapedWorkload.Good;
    private const int Malformed = ScrapedWorkload.Malformed;
    private const int FirmwarePurposes = 3;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private Prometheus _prometheus => workload.Prometheus;
    private GatewayProcess _gateway => workload.Gateway;

    [Fact]
    public async Task Prometheus_stores_the_counts_of_a_known_workload()
    {
        Assert.Equal(1, await _prometheus.EventuallyAsync("up{job=\"telemetry-gateway\"}", 1, s_wait));
        Assert.Equal(Good + Malformed, await _prometheus.EventuallyAsync("sum(telemetry_gateway_messages_received_total{stream=\"firmware\"})", Good + Malformed, s_wait));
        Assert.Equal(Malformed, await _prometheus.EventuallyAsync("sum(telemetry_gateway_messages_quarantined_total{stream=\"firmware\",reason=\"malformed-json\"})", Malformed, s_wait));
        Assert.Equal(Good * FirmwarePurposes, await _prometheus.EventuallyAsync("sum(telemetry_gateway_outputs_produced_total{stream=\"firmware\"})", Good * FirmwarePurposes, s_wait));
        Assert.Equal(Good, await _prometheus.EventuallyAsync(
            "telemetry_gateway_outputs_produced_total{stream=\"firmware\",purpose=\"after-sales-service\"}", Good, s_wait));
        Assert.Equal(Good * FirmwarePurposes, await _prometheus.EventuallyAsync("sum(telemetry_gateway_outputs_forwarded_total)", Good * FirmwarePurposes, s_wait));
        Assert.Equal(Good, await _prometheus.EventuallyAsync(
            "sum(telemetry_gateway_outputs_forwarded_total{purpose=\"after-sales-service\"})", Good, s_wait));
        Assert.Equal(Good * FirmwarePurposes, await _prometheus.EventuallyAsync("sum(telemetry_gateway_upstream_ack_duration_seconds_count)", Good * FirmwarePurposes, s_wait));
        // Each message's "wifi" field is named by no purpose's rules: dropped once per purpose.
        Assert.Equal(Good * FirmwarePurposes, await _prometheus.EventuallyAsync(
            "sum(telemetry_gateway_fields_processed_total{stream=\"firmware\",action=\"dropped\"})", Good * FirmwarePurposes, s_wait));
        Assert.Equal(1, await _prometheus.EventuallyAsync("telemetry_gateway_upstream_connected{server_address=\"127.0.0.1\"}", 1, s_wait));
        Assert.Equal(1, await _prometheus.EventuallyAsync("telemetry_gateway_policy_generation", 1, s_wait));
        Assert.Equal(0, await _prometheus.EventuallyAsync("telemetry_gateway_outbox_depth", 0, s_wait));
        Assert.Equal(0, await _prometheus.EventuallyAsync("telemetry_gateway_outbox_oldest_age_seconds", 0, s_wait));
        Assert.Equal(1, await _prometheus.EventuallyAsync("telemetry_gateway_connections_refused_total{reason=\"client-identifier-not-valid\"}", 1, s_wait));
    }

    [Fact]
    public async Task No_label_carries_a_topic_client_id_or_serial()
    {
        Assert.Equal(1, await _prometheus.EventuallyAsync("up{job=\"telemetry-gateway\"}", 1, s_wait));
        using var admin = _gateway.AdminClient();
        var exposition = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        foreach (var forbidden in new[] { "METRICSERIAL0001", "metrics-device", "dt/anker_power", "A17C0" })
        {
            Assert.DoesNotContain(forbidden, exposition, StringComparison.Ordinal);
        }
        var series = await _prometheus.QueryAsync("{__name__=~\"telemetry_gateway_.+\"}");
        Assert.NotEmpty(series);
        foreach (var (labels, _) in series)
        {
            Assert.DoesNotContain(labels.Values, value => value.Contains("METRICSERIAL0001", StringComparison.Ordinal) || value.Contains("metrics-device", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_exposition_passes_promtool_check_metrics()
    {
        using var admin = _gateway.AdminClient();
        var exposition = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        var check = await CommandLine.RunAsync("promtool", ["check", "metrics"], standardInput: exposition);

        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("# TYPE telemetry_gateway_messages_received_total counter", exposition, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_dashboard_panel_returns_data_after_the_workload()
    {
        Assert.Equal(Good * FirmwarePurposes, await _prometheus.EventuallyAsync("sum(telemetry_gateway_outputs_produced_total)", Good * FirmwarePurposes, s_wait));
        // Two scrapes after the workload at least, so that every rate has two samples.
        await Task.Delay(TimeSpan.FromSeconds(3));
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "deploy", "grafana", "telemetry-gateway.json")));
        Assert.Equal("telemetry-gateway", dashboard.RootElement.GetProperty("uid").GetString());
        var variables = dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()).ToList();
        Assert.Contains("datasource", variables);
        var empty = new List<string>();
        var checkedExpressions = 0;
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                var expression = target.GetProperty("expr").GetString()!
                    .Replace("$__rate_interval", "30s", StringComparison.Ordinal)
                    .Replace("$job", "telemetry-gateway", StringComparison.Ordinal);
                checkedExpressions++;
                if ((await _prometheus.QueryAsync(expression)).Count == 0)
                {
                    empty.Add($"{panel.GetProperty("title").GetString()}: {expression}");
                }
            }
        }
        Assert.True(checkedExpressions >= 18, $"{checkedExpressions} expressions");
        Assert.True(empty.Count == 0, "no data for: " + string.Join("; ", empty));
    }
}

/// <summary>Once for the class: a mosquitto upstream, a gateway, Prometheus scraping it, and the known workload sent.</summary>
public sealed class ScrapedWorkload : IAsyncLifetime, IDisposable
{
    public const int Good = 40;
    public const int Malformed = 4;

    private readonly TempDirectory _temp = new();
    private Mosquitto _upstream = null!;

    internal GatewayProcess Gateway { get; private set; } = null!;
    internal Prometheus Prometheus { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _upstream = await Mosquitto.StartAsync();
        Gateway = await GatewayProcess.StartAsync(_temp.DataDirectory, $"--Gateway:Upstream:Url=mqtt://127.0.0.1:{_upstream.Port}", "--Gateway:Upstream:Envelope=none");
        await Loopback.WaitForListenerAsync(Gateway.AdminPort, TimeSpan.FromSeconds(30), () => Gateway.Output);
        Prometheus = await Prometheus.StartAsync(Gateway.AdminPort);
        await using var device = await Client.ConnectAsync(Gateway.Port, "metrics-device");
        for (var i = 0; i < Good; i++)
        {
            var result = await device.PublishAsync(
                "dt/anker_power/A17C0/METRICSERIAL0001/firmware", System.Text.Encoding.UTF8.GetBytes($$"""{"sn":"METRICSERIAL0001","sw_version":"v{{i}}","wifi":"x"}"""),
                MqttQualityOfServiceLevel.AtLeastOnce);
            Assert.True(result.IsSuccess);
        }
        for (var i = 0; i < Malformed; i++)
        {
            await device.PublishAsync("dt/anker_power/A17C0/METRICSERIAL0001/firmware", "{\"sn\":");
        }
        // One refused connection: client ids starting with '$' are reserved for the gateway.
        var refused = await Security.CommandLine.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", $"{Gateway.Port}", "-i", "$reserved-id", "-t", "x", "-m", "x"]);
        Assert.NotEqual(0, refused.ExitCode);
    }

    public async Task DisposeAsync()
    {
        await Prometheus.DisposeAsync();
        await Gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}
