using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Host.Metrics;
using TelemetryGateway.Host.Reload;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Metrics;

public sealed class ProcessingMetricsTests
{
    [Fact]
    public void Outputs_and_field_actions_are_observed_from_the_policy_counters_per_stream_and_purpose()
    {
        var bytes = File.ReadAllBytes(TestFiles.DefaultPolicy);
        var generations = new PolicyGenerations(PolicyCompiler.Compile(bytes).Policy!, TestFiles.DefaultPolicy);
        var reloader = new PolicyReloader(generations, TestFiles.DefaultPolicy, bytes, TimeProvider.System, NullLogger<PolicyReloader>.Instance);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new ProcessingMetrics(services.GetRequiredService<IMeterFactory>(), generations, reloader);
        var minimizer = new Minimizer(generations.Current.Policy, PseudonymizationKey.FromBytes(new byte[32]), [new ConsentGate(NoConsentRecorded.Instance)]);
        var payload = new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"sn":"SN1","sw_version":"v1","wifi":"x"}"""));
        minimizer.Minimize("dt/anker_power/A17C0/SN1/firmware", payload);
        minimizer.Minimize("dt/anker_power/A17C0/SN1/firmware", payload);

        var measured = Collect(services.GetRequiredService<IMeterFactory>(), ProcessingMetrics.MeterName);

        Assert.Equal(2, measured[("telemetry_gateway.outputs.produced", "stream=firmware,purpose=after-sales-service")]);
        Assert.Equal(2, measured[("telemetry_gateway.fields.processed", "stream=firmware,purpose=product-improvement,action=dropped")]);
        Assert.Equal(2, measured[("telemetry_gateway.fields.processed", "stream=firmware,purpose=product-improvement,action=hashed")]);
        Assert.Equal(1, measured[("telemetry_gateway.policy.generation", "")]);
        Assert.Equal(0, measured[("telemetry_gateway.policy.reloads", "result=failure")]);
        Assert.DoesNotContain(measured.Keys, key => key.Labels.Contains("SN1", StringComparison.Ordinal));
    }

    [Fact]
    public void Entries_of_one_stream_that_share_a_purpose_are_one_series_summed()
    {
        var bytes = Encoding.UTF8.GetBytes("""
            { "id": "p", "version": "1", "streams": { "s": { "topic": "t/{sn}", "categories": ["device", "owner"], "purposes": {
              "after-sales-service": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": { "a": "keep" } },
              "after-sales-owner-contact": { "purpose": "after-sales-service", "legalBasis": "consent", "retention": "P1D", "topic": "c", "fields": { "a": "keep" } },
              "diagnostics": { "legalBasis": "contract", "retention": "P1D", "topic": "d", "fields": { "a": "keep" } } } } } }
            """);
        var path = Path.Combine(Path.GetTempPath(), $"entries-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(path, bytes);
        try
        {
            var generations = new PolicyGenerations(PolicyCompiler.Compile(bytes).Policy!, path);
            var reloader = new PolicyReloader(generations, path, bytes, TimeProvider.System, NullLogger<PolicyReloader>.Instance);
            using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            using var metrics = new ProcessingMetrics(services.GetRequiredService<IMeterFactory>(), generations, reloader);
            var minimizer = new Minimizer(generations.Current.Policy, PseudonymizationKey.FromBytes(new byte[32]), [new ConsentGate(new EveryConsent())]);
            minimizer.Minimize("t/SN1", new System.Buffers.ReadOnlySequence<byte>("""{"a":1}"""u8.ToArray()));

            var measured = Collect(services.GetRequiredService<IMeterFactory>(), ProcessingMetrics.MeterName);

            Assert.Equal(2, measured[("telemetry_gateway.outputs.produced", "stream=s,purpose=after-sales-service")]);
            Assert.Equal(1, measured[("telemetry_gateway.outputs.produced", "stream=s,purpose=diagnostics")]);
            Assert.Equal(2, measured.Keys.Count(k => k.Instrument == "telemetry_gateway.outputs.produced"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class EveryConsent : IConsentRegistry
    {
        public bool HasConsent(Core.Vocabulary.Purpose purpose, ReadOnlySpan<char> device) => true;
    }

    private static Dictionary<(string Instrument, string Labels), long> Collect(IMeterFactory factory, string meterName)
    {
        var measured = new Dictionary<(string, string), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == meterName && instrument.Meter.Scope == factory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var labels = new StringBuilder();
            foreach (var tag in tags)
            {
                labels.Append(labels.Length == 0 ? "" : ",").Append(tag.Key).Append('=').Append(tag.Value);
            }
            measured[(instrument.Name, labels.ToString())] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return measured;
    }
}
