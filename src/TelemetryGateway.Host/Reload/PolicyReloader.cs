using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Host.Reload;

/// <summary>What the admin API reports of the running policy.</summary>
internal sealed record RunningPolicy(string Id, string Version, string Sha256, long Generation, DateTimeOffset LoadedAt, string Path);

/// <summary>
/// The one way the policy file is reloaded, whatever asked for it (SIGHUP, a change of the file, <c>POST /admin/reload</c>):
/// reads the file, hands it to <see cref="PolicyGenerations"/>, which swaps it in only when valid; a bad policy keeps the
/// running one, and every error is logged with the file's path. Reloads run one at a time. Each result is counted.
/// </summary>
internal sealed partial class PolicyReloader
{
    public const string Succeeded = "success";
    public const string Failed = "failure";

    private readonly PolicyGenerations _generations;
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloading = new();
    private RunningPolicy _running;
    private long _succeeded;
    private long _failed;

    public PolicyReloader(PolicyGenerations generations, string path, byte[] initialBytes, TimeProvider time, ILogger<PolicyReloader> logger)
    {
        _generations = generations;
        _path = path;
        _time = time;
        _logger = logger;
        _running = Describe(generations.Current, Convert.ToHexStringLower(SHA256.HashData(initialBytes)));
    }

    public string Path => _path;

    public RunningPolicy Running => Volatile.Read(ref _running);

    public long SucceededCount => Interlocked.Read(ref _succeeded);

    public long FailedCount => Interlocked.Read(ref _failed);

    /// <summary>Reloads the policy file; <paramref name="trigger"/> (sighup, file-change, admin-api) is logged.</summary>
    public PolicyReload Reload(string trigger)
    {
        lock (_reloading)
        {
            PolicyReload result;
            string? hash = null;
            try
            {
                var bytes = File.ReadAllBytes(_path);
                hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                result = _generations.Reload(bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result = new PolicyReload(false, _generations.Current, [$"cannot read the policy file: {e.GetType().Name}"]);
            }
            if (result.Succeeded)
            {
                Interlocked.Increment(ref _succeeded);
                if (result.Current.Number != Running.Generation)
                {
                    Volatile.Write(ref _running, Describe(result.Current, hash!));
                }
                LogReloaded(_logger, trigger, result.Current.Policy.Tag, result.Current.Number);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                foreach (var error in result.Errors)
                {
                    LogReloadError(_logger, _path, error);
                }
                LogReloadFailed(_logger, trigger, _path, result.Errors.Count, result.Current.Policy.Tag);
            }
            return result;
        }
    }

    private RunningPolicy Describe(PolicyGeneration generation, string hash) =>
        new(generation.Policy.Id, generation.Policy.Version, hash, generation.Number, _time.GetUtcNow(), _path);

    [LoggerMessage(EventId = EventIds.PolicyReloaded, Level = LogLevel.Information, Message = "Policy reloaded ({Trigger}): {Policy} is generation {Generation}")]
    private static partial void LogReloaded(ILogger logger, string trigger, string policy, long generation);

    [LoggerMessage(EventId = EventIds.PolicyReloadFailed, Level = LogLevel.Error, Message = "Policy reload ({Trigger}) of {Path} failed with {ErrorCount} error(s); {Policy} keeps running")]
    private static partial void LogReloadFailed(ILogger logger, string trigger, string path, int errorCount, string policy);

    [LoggerMessage(EventId = EventIds.PolicyReloadError, Level = LogLevel.Error, Message = "Policy {Path}: {Error}")]
    private static partial void LogReloadError(ILogger logger, string path, string error);
}
