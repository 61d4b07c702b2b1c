using System.Net;
using TelemetryGateway.Http;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// <c>Gateway:Admin</c>: the admin listener (metrics, health, policy reload, and the APIs other features add through
/// <see cref="IAdminEndpoints"/>). Loopback by default, where no key is needed; bound anywhere else, every request
/// except the health probes needs an API key whose SHA-256 is configured here.
/// </summary>
public sealed record AdminOptions
{
    public const string SectionName = "Gateway:Admin";

    /// <summary>False: no admin listener at all (no metrics, health or reload over HTTP; SIGHUP still reloads).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>9464, the port registered for the Prometheus exporter of OpenTelemetry.</summary>
    public int Port { get; init; } = 9464;

    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>SHA-256 of each accepted key, in hex (sent as <c>X-Api-Key</c> or <c>Authorization: Bearer</c>).</summary>
    public IReadOnlyList<string> ApiKeySha256 { get; init; } = [];

    /// <summary>A file with one hex SHA-256 per line (blank lines and lines starting with # are skipped).</summary>
    public string? ApiKeysFile { get; init; }

    public bool IsLoopback => IPAddress.TryParse(BindAddress, out var address) && IPAddress.IsLoopback(address);

    /// <summary>Off loopback a key is required; on loopback only when the operator configured one.</summary>
    public bool RequiresApiKey => !IsLoopback || ApiKeySha256.Count > 0 || ApiKeysFile is not null;

    public IEnumerable<string> Validate(string path)
    {
        if (!Enabled)
        {
            yield break;
        }
        if (Port is < 1 or > 65535)
        {
            yield return $"{path}:Port must be between 1 and 65535";
        }
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return $"{path}:BindAddress must be an IP address such as 127.0.0.1 or 0.0.0.0";
        }
        else if (RequiresApiKey)
        {
            // The same key rules as the HTTP ingress (hex SHA-256 values or a file of them, never a key itself).
            foreach (var error in AsIngressKeys().Validate(path))
            {
                yield return IsLoopback ? error : error.Replace("api-key authentication needs", "a BindAddress off loopback needs", StringComparison.Ordinal);
            }
        }
    }

    /// <summary>The configured key hashes and those of the keys file, as bytes.</summary>
    public IReadOnlyList<byte[]> LoadApiKeyHashes() => RequiresApiKey ? AsIngressKeys().LoadApiKeyHashes() : [];

    private HttpIngressOptions AsIngressKeys() => new() { ApiKeySha256 = ApiKeySha256, ApiKeysFile = ApiKeysFile };
}
