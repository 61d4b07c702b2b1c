using System.Diagnostics.Metrics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Reload;

namespace TelemetryGateway.Host.Metrics;

/// <summary>
/// The records of processing as metrics (meter <c>TelemetryGateway</c>): per stream and purpose, outputs produced and
/// withheld and the fields dropped, hashed, coarsened and redacted, observed from the policy's
/// <see cref="ProcessingCounters"/> at each collection, so the engine's per-message path does no more work than it
/// did; and the policy generation and reload results. Labels are the policy's stream names and purpose ids and fixed
/// action and reason ids: never a topic, client id, serial or user name.
/// </summary>
internal sealed class ProcessingMetrics : IDisposable
{
    public const string MeterName = "TelemetryGateway";

    private static readonly (ProcessingAction Action, string Id)[] s_fieldActions =
    [
        (ProcessingAction.Dropped, "dropped"),
        (ProcessingAction.Hashed, "hashed"),
        (ProcessingAction.Coarsened, "coarsened"),
        (ProcessingAction.Redacted, "redacted"),
        (ProcessingAction.TypeMismatch, "type-mismatch"),
    ];

    private static readonly (ProcessingAction Action, string Id)[] s_withheld =
    [
        (ProcessingAction.NoConsent, "no-consent"),
        (ProcessingAction.Withheld, "nothing-for-purpose"),
        (ProcessingAction.NoDestination, "no-destination"),
    ];

    private readonly Meter _meter;

    public ProcessingMetrics(IMeterFactory meterFactory, PolicyGenerations generations, PolicyReloader reloader)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableCounter("telemetry_gateway.outputs.produced",
            () => PerPurpose(generations, [(ProcessingAction.Forwarded, "")], null), "{output}", "Minimized outputs produced, per stream and purpose");
        _meter.CreateObservableCounter("telemetry_gateway.outputs.withheld",
            () => PerPurpose(generations, s_withheld, "reason"), "{output}", "Outputs not produced for a purpose, per stream, purpose and reason");
        _meter.CreateObservableCounter("telemetry_gateway.fields.processed",
            () => PerPurpose(generations, s_fieldActions, "action"), "{field}", "Fields dropped, hashed, coarsened or redacted, per stream, purpose and action");
        _meter.CreateObservableGauge("telemetry_gateway.policy.generation",
            () => generations.Current.Number, "{generation}", "The policy generation in service: 1 at start, one more per successful reload");
        _meter.CreateObservableCounter("telemetry_gateway.policy.reloads", () => new[]
        {
            new Measurement<long>(reloader.SucceededCount, new KeyValuePair<string, object?>("result", PolicyReloader.Succeeded)),
            new Measurement<long>(reloader.FailedCount, new KeyValuePair<string, object?>("result", PolicyReloader.Failed)),
        }, "{reload}", "Policy reloads, per result (a failed one keeps the running policy)");
    }

    private static List<Measurement<long>> PerPurpose(PolicyGenerations generations, (ProcessingAction Action, string Id)[] actions, string? label)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var stream in generations.Current.Policy.Streams)
        {
            // One series per stream and purpose of the notice: entries of one stream that share a purpose (different
            // legal bases, say) are summed, so the label values stay the notice's bounded vocabulary.
            foreach (var entries in stream.Purposes.GroupBy(p => p.Purpose))
            {
                var streamTag = new KeyValuePair<string, object?>("stream", stream.Name);
                var purposeTag = new KeyValuePair<string, object?>("purpose", entries.Key.Id());
                foreach (var (action, id) in actions)
                {
                    var count = entries.Sum(entry => entry.Counters[action]);
                    measurements.Add(label is null
                        ? new Measurement<long>(count, streamTag, purposeTag)
                        : new Measurement<long>(count, streamTag, purposeTag, new KeyValuePair<string, object?>(label, id)));
                }
            }
        }
        return measurements;
    }

    public void Dispose() => _meter.Dispose();
}
