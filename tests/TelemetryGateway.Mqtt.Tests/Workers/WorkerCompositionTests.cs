using System.Buffers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet.Server;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Outbox;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Mqtt.Tests.Workers;

/// <summary>A worker ingress composed in DI: no site broker, the same pipeline and delivery, outcomes the consumer acts on.</summary>
public sealed class WorkerCompositionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-worker-").FullName;

    [Theory]
    [InlineData("mqtt-shared", nameof(SharedSubscriptionWorker))]
    [InlineData("amqp", nameof(AmqpQueueWorker))]
    public async Task A_worker_mode_runs_no_site_broker_and_delivery_outlives_the_consumer(string mode, string consumer)
    {
        await using var services = Compose(mode, upstream: null).BuildServiceProvider();

        var hosted = services.GetServices<IHostedService>().Select(s => s.GetType().Name).ToList();

        Assert.DoesNotContain(nameof(SiteBroker), hosted);
        Assert.Null(services.GetService<MqttServer>());
        Assert.True(hosted.IndexOf(nameof(DeliveryService)) < hosted.IndexOf(consumer), string.Join(", ", hosted));
    }

    [Fact]
    public async Task A_matched_message_is_delivered_once_its_outputs_are_safe()
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        await using var services = Compose("mqtt-shared", upstream).BuildServiceProvider();
        var pipeline = services.GetRequiredService<WorkerPipeline>();

        var outcome = await pipeline.ProcessAsync("dt/anker_power/A17C0/SERIALCANARY0001/firmware", Bytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}"""), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Delivered, outcome);
        // Three purposes: acknowledged upstream, or stored in the outbox while the upstream was not yet connected.
        Assert.Equal(3, upstream.Acknowledged.Count + services.GetRequiredService<SqliteOutbox>().Count);
    }

    [Fact]
    public async Task An_unmatched_message_is_done_and_counted()
    {
        await using var services = Compose("amqp", new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge)).BuildServiceProvider();
        var pipeline = services.GetRequiredService<WorkerPipeline>();

        var outcome = await pipeline.ProcessAsync("vendor/other/topic", Bytes("{}"), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Unmatched, outcome);
        Assert.Equal(1, pipeline.Unmatched);
    }

    [Fact]
    public async Task A_malformed_message_is_quarantined_not_delivered()
    {
        var upstream = new ScriptedUpstream((_, _) => ScriptedAnswer.Acknowledge);
        await using var services = Compose("amqp", upstream).BuildServiceProvider();
        var pipeline = services.GetRequiredService<WorkerPipeline>();

        var outcome = await pipeline.ProcessAsync("dt/anker_power/A17C0/SERIALCANARY0001/firmware", Bytes("""{"sn":"""), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Quarantined, outcome);
        Assert.Equal(1, pipeline.Quarantined);
        Assert.Empty(upstream.Published);
        Assert.Equal(0, services.GetRequiredService<SqliteOutbox>().Count);
    }

    [Fact]
    public async Task An_amqp_upstream_is_the_exchange_publisher_and_outputs_keep_the_upstream_topic_prefix()
    {
        var upstream = new UpstreamOptions { Url = "amqp://worker:secret@127.0.0.1:1/", Exchange = "telemetry.outputs" };
        await using var services = Compose("amqp", upstream: null, upstream).BuildServiceProvider();

        Assert.IsType<AmqpExchangeUpstream>(services.GetRequiredService<IUpstream>());
        // Not connected (nothing listens): the outputs wait in the outbox, under the upstream's topic prefix, not 'filtered'.
        var outcome = await services.GetRequiredService<WorkerPipeline>().ProcessAsync(
            "dt/anker_power/A17C0/SERIALCANARY0001/firmware", Bytes("""{"sn":"SERIALCANARY0001","sw_version":"v1"}"""), CancellationToken.None);

        Assert.Equal(WorkerOutcome.Delivered, outcome);
        var stored = services.GetRequiredService<SqliteOutbox>().ReadAfter(0, 10);
        Assert.Equal(3, stored.Count);
        Assert.All(stored, m => Assert.StartsWith("telemetry/", m.Message.Topic, StringComparison.Ordinal));
    }

    private static ReadOnlySequence<byte> Bytes(string text) => new(Encoding.UTF8.GetBytes(text));

    private ServiceCollection Compose(string mode, IUpstream? upstream, UpstreamOptions? upstreamOptions = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<CompiledPolicy>(ShippedPolicy.Policy);
        services.AddSingleton<PseudonymizationKey>(ShippedPolicy.Key);
        if (upstream is not null)
        {
            services.AddSingleton(upstream);
        }
        var settings = new MqttGatewaySettings(
            new SiteBrokerOptions(),
            upstreamOptions ?? new UpstreamOptions { Url = "mqtt://127.0.0.1:1", Envelope = "none" },
            new OutboxOptions(),
            _directory,
            "worker-1",
            new SecurityOptions(),
            QuarantineOptions.Default)
        {
            Ingress = new IngressOptions { Mode = mode, Url = mode == "amqp" ? "amqp://127.0.0.1:1/" : "mqtt://127.0.0.1:1", Queue = "telemetry" },
        };
        services.AddMqttGateway(settings, webHost: null);
        return services;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
