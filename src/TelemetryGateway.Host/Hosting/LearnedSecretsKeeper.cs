using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;

namespace TelemetryGateway.Host.Hosting;

/// <summary>
/// Keeps the learned values across restarts: restores them at start (an unreadable file is discarded, never fatal),
/// drops expired ones and saves them when they changed every <see cref="LearnedSecretsOptions.SaveInterval"/>, and once
/// more at stop. Logs counts only, never a value. With <c>Persist=false</c> it only expires.
/// </summary>
internal sealed partial class LearnedSecretsKeeper(
    LearnedSecrets secrets, LearnedSecretsOptions options, string dataDirectory, PseudonymizationKey key, ILogger<LearnedSecretsKeeper> logger, TimeProvider time)
    : BackgroundService
{
    private readonly LearnedSecretsFile _file = new(Path.Combine(dataDirectory, LearnedSecretsFile.FileName), key);
    private long _savedVersion = -1;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Persist)
        {
            switch (_file.Load(secrets))
            {
                case LearnedSecretsFile.LoadResult.Loaded:
                    LogRestored(secrets.Count);
                    break;
                case LearnedSecretsFile.LoadResult.Discarded:
                    LogDiscarded();
                    break;
            }
            _savedVersion = secrets.Version;
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.SaveInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                secrets.Expire();
                Save();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Save();
    }

    private void Save()
    {
        var version = secrets.Version;
        if (!options.Persist || version == _savedVersion)
        {
            return;
        }
        try
        {
            _file.Save(secrets);
            _savedVersion = version;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Kept in memory; tried again at the next interval.
            LogSaveFailed(e.GetType().Name);
        }
    }

    [LoggerMessage(EventId = EventIds.LearnedValuesRestored, Level = LogLevel.Information, Message = "Learned values restored: {Count}")]
    private partial void LogRestored(int count);

    [LoggerMessage(EventId = EventIds.LearnedValuesDiscarded, Level = LogLevel.Warning,
        Message = "The learned-values file could not be read or decrypted (another key, or damaged); it was discarded and values are learned again")]
    private partial void LogDiscarded();

    [LoggerMessage(EventId = EventIds.LearnedValuesSaveFailed, Level = LogLevel.Warning, Message = "Learned values could not be saved ({ErrorType}); kept in memory, retried later")]
    private partial void LogSaveFailed(string errorType);
}
