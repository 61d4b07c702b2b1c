using System.Net;
using TelemetryGateway.Http;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// <c>Gateway:Admin</c>: the admin listener (metrics, health, policy reload, and the APIs other features add through
/// <see cref="IAdminEndpoints"/>). Loopback by default, where no key is needed; bound anywhere else, every request
/// except the health probes needs an API key whose SHA-256 is configured here, or a client certificate issued by
/// <see cref="ClientCaFile"/> (over HTTPS, with <see cref="CertificateFile"/> and <see cref="KeyFile"/>).
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

    /// <summary>The listener's certificate (PEM); with <see cref="KeyFile"/>, the admin listener speaks HTTPS only.</summary>
    public string? CertificateFile { get; init; }

    /// <summary>The private key of <see cref="CertificateFile"/> (PEM).</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// A CA (PEM): a client certificate it issued for client authentication is accepted instead of an API key (for
    /// every endpoint a key opens); a certificate it did not issue fails the TLS handshake. Needs HTTPS.
    /// </summary>
    public string? ClientCaFile { get; init; }

    public bool UsesTls => CertificateFile is not null;

    public bool AcceptsClientCertificates => ClientCaFile is not null;

    public bool IsLoopback => IPAddress.TryParse(BindAddress, out var address) && IPAddress.IsLoopback(address);

    /// <summary>
    /// Whether a request needs credentials: off loopback always (an API key, or a client certificate when
    /// <see cref="ClientCaFile"/> is set), on loopback only when the operator configured keys or a client CA.
    /// </summary>
    public bool RequiresCredentials => !IsLoopback || HasApiKeys || AcceptsClientCertificates;

    private bool HasApiKeys => ApiKeySha256.Count > 0 || ApiKeysFile is not null;

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
        if (CertificateFile is null != (KeyFile is null))
        {
            yield return $"{path}: HTTPS needs both {path}:CertificateFile and {path}:KeyFile";
        }
        if (AcceptsClientCertificates && !UsesTls)
        {
            yield return $"{path}:ClientCaFile needs HTTPS ({path}:CertificateFile and {path}:KeyFile)";
        }
        foreach (var (name, file) in new[] { ("CertificateFile", CertificateFile), ("KeyFile", KeyFile), ("ClientCaFile", ClientCaFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                yield return $"{path}:{name}: file '{file}' does not exist";
            }
        }
        if (IPAddress.TryParse(BindAddress, out _) && RequiresCredentials && (HasApiKeys || !AcceptsClientCertificates))
        {
            // The same key rules as the HTTP ingress (hex SHA-256 values or a file of them, never a key itself).
            foreach (var error in AsIngressKeys().Validate(path))
            {
                yield return IsLoopback ? error : error.Replace("api-key authentication needs", "a BindAddress off loopback needs", StringComparison.Ordinal);
            }
        }
    }

    /// <summary>The configured key hashes and those of the keys file, as bytes.</summary>
    public IReadOnlyList<byte[]> LoadApiKeyHashes() => HasApiKeys ? AsIngressKeys().LoadApiKeyHashes() : [];

    private HttpIngressOptions AsIngressKeys() => new() { ApiKeySha256 = ApiKeySha256, ApiKeysFile = ApiKeysFile };
}
