using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// Records of processing without the data (privacy model, principle 7): per stream and purpose, how many outputs were
/// forwarded and how many fields were dropped, hashed, coarsened or redacted — counts only, never values. Logged at a
/// fixed interval when something changed, and once more at shutdown, for every purpose that had messages.
/// </summary>
internal sealed partial class ProcessingRecordsReporter(PolicyGenerations generations, ILogger<ProcessingRecordsReporter> logger, TimeProvider time)
    : IHostedService, IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    // Keyed by the counters, which a reload carries over to the stream purposes that still exist.
    private readonly Dictionary<ProcessingCounters, long> _lastForwarded = [];
    private ITimer? _timer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = time.CreateTimer(_ => Report(onlyChanged: true), null, Interval, Interval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        Report(onlyChanged: false);
        return Task.CompletedTask;
    }

    private void Report(bool onlyChanged)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return;
        }
        lock (_lastForwarded)
        {
            foreach (var stream in generations.Current.Policy.Streams)
            {
                foreach (var purpose in stream.Purposes)
                {
                    var counters = purpose.Counters;
                    var forwarded = counters[ProcessingAction.Forwarded];
                    var unchanged = _lastForwarded.GetValueOrDefault(counters) == forwarded;
                    // A purpose that never had a message has nothing to record.
                    if ((onlyChanged && unchanged) || (forwarded == 0 && counters[ProcessingAction.NoConsent] == 0 && counters[ProcessingAction.Withheld] == 0
                        && counters[ProcessingAction.Objected] == 0 && counters[ProcessingAction.Restricted] == 0 && counters[ProcessingAction.NoDestination] == 0))
                    {
                        continue;
                    }
                    _lastForwarded[counters] = forwarded;
                    var purposeId = purpose.Purpose.Id();
                    var legalBasisId = purpose.LegalBasis.Id();
                    LogRecord(
                        logger, stream.Name, purposeId, legalBasisId, forwarded, counters[ProcessingAction.Dropped],
                        counters[ProcessingAction.Hashed], counters[ProcessingAction.Coarsened], counters[ProcessingAction.Redacted],
                        counters[ProcessingAction.TypeMismatch], counters[ProcessingAction.NoConsent], counters[ProcessingAction.Withheld],
                        counters[ProcessingAction.Objected], counters[ProcessingAction.Restricted], counters[ProcessingAction.NoDestination], purpose.Name);
                }
            }
        }
    }

    public void Dispose() => _timer?.Dispose();

    [LoggerMessage(EventId = EventIds.ProcessingRecords, Level = LogLevel.Information, Message = "Records of processing: stream {Stream}, purpose {Purpose} ({LegalBasis}): "
        + "{Forwarded} outputs; fields dropped {Dropped}, hashed {Hashed}, coarsened {Coarsened}, redacted {Redacted}, "
        + "dropped for a type mismatch {TypeMismatch}; messages skipped for missing consent {NoConsent}, "
        + "withheld as nothing in them was for this purpose {Withheld}, objected to {Objected}, restricted away {Restricted}; "
        + "outputs not sent as no upstream lies in a region the purpose may go to {NoDestination}; purpose entry {Entry}")]
    private static partial void LogRecord(
        ILogger logger, string stream, string purpose, string legalBasis, long forwarded, long dropped, long hashed, long coarsened,
        long redacted, long typeMismatch, long noConsent, long withheld, long objected, long restricted, long noDestination, string entry);
}
