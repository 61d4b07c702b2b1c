using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;

namespace TelemetryGateway.Host.Reload;

/// <summary>
/// Reloads the policy when its file changes. Polls the content's hash through the configured path at a fixed interval
/// instead of using inotify: editors replace files by rename (a watch on the old inode sees nothing), and a Kubernetes
/// ConfigMap swaps a symlink to a new directory; reading through the path each time sees both. A change is reloaded
/// once: a broken edit is reported once, not at every poll, and the next edit is tried again.
/// </summary>
internal sealed partial class PolicyFileWatcher(PolicyReloader reloader, TimeSpan interval, TimeProvider time, ILogger<PolicyFileWatcher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seen = reloader.Running.Sha256;
        var unreadable = false;
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            string hash;
            try
            {
                hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(reloader.Path, stoppingToken)));
                unreadable = false;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Mid-swap, or removed: the running policy stays; said once until the file is back.
                if (!unreadable)
                {
                    LogUnreadable(logger, reloader.Path, e.GetType().Name);
                    unreadable = true;
                }
                continue;
            }
            if (hash == seen)
            {
                continue;
            }
            seen = hash;
            LogChanged(logger, reloader.Path);
            reloader.Reload("file-change");
        }
    }

    [LoggerMessage(EventId = EventIds.PolicyFileChanged, Level = LogLevel.Information, Message = "Policy file {Path} changed")]
    private static partial void LogChanged(ILogger logger, string path);

    [LoggerMessage(EventId = EventIds.PolicyWatchFailed, Level = LogLevel.Warning, Message = "Policy file {Path} cannot be read ({Error}); the running policy stays")]
    private static partial void LogUnreadable(ILogger logger, string path, string error);
}
