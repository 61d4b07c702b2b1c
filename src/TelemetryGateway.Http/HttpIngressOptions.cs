using System.Globalization;
using System.Net;

namespace TelemetryGateway.Http;

/// <summary>
/// <c>Gateway:Http</c>: the HTTP ingress listener. The routes and clusters themselves are YARP's own
/// <c>ReverseProxy</c> section; without routes the listener is not opened.
/// </summary>
public sealed record HttpIngressOptions
{
    public const string ApiKey = "api-key";
    public const string ClientCertificate = "client-certificate";
    public const string ApiKeyOrClientCertificate = "api-key-or-client-certificate";

    public int Port { get; init; } = 8080;

    /// <summary>Loopback by default: nothing on the site network can upload until an operator opens it up.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary><c>api-key</c> (default), <c>client-certificate</c> or <c>api-key-or-client-certificate</c>.</summary>
    public string Authentication { get; init; } = ApiKey;

    /// <summary>
    /// SHA-256 of each accepted API key, in hex: the gateway never holds a key itself. A key is sent in
    /// <c>X-Api-Key</c> or as <c>Authorization: Bearer</c>.
    /// </summary>
    public IReadOnlyList<string> ApiKeySha256 { get; init; } = [];

    /// <summary>A file with one hex SHA-256 per line (blank lines and lines starting with # are skipped).</summary>
    public string? ApiKeysFile { get; init; }

    /// <summary>PEM certificate (and <see cref="KeyFile"/>) the listener serves over HTTPS; required for client certificates.</summary>
    public string? CertificateFile { get; init; }

    public string? KeyFile { get; init; }

    /// <summary>PEM file of the CA that issues client certificates; a client certificate must chain to it.</summary>
    public string? ClientCaFile { get; init; }

    public bool AcceptsApiKeys => Authentication is ApiKey or ApiKeyOrClientCertificate;
    public bool AcceptsClientCertificates => Authentication is ClientCertificate or ApiKeyOrClientCertificate;
    public bool UsesTls => CertificateFile is not null;

    public IEnumerable<string> Validate(string path)
    {
        if (Port is < 1 or > 65535)
        {
            yield return $"{path}:Port must be between 1 and 65535";
        }
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return $"{path}:BindAddress must be an IP address such as 127.0.0.1 or 0.0.0.0";
        }
        if (Authentication is not (ApiKey or ClientCertificate or ApiKeyOrClientCertificate))
        {
            yield return $"{path}:Authentication must be '{ApiKey}', '{ClientCertificate}' or '{ApiKeyOrClientCertificate}'";
        }
        if (AcceptsApiKeys)
        {
            var index = 0;
            foreach (var hash in ApiKeySha256)
            {
                if (!IsSha256Hex(hash))
                {
                    yield return $"{path}:ApiKeySha256:{index} must be 64 hex digits (the SHA-256 of a key, not the key)";
                }
                index++;
            }
            if (ApiKeysFile is not null && !File.Exists(ApiKeysFile))
            {
                yield return $"{path}:ApiKeysFile: file '{ApiKeysFile}' does not exist";
            }
            if (ApiKeySha256.Count == 0 && ApiKeysFile is null)
            {
                yield return $"{path}: api-key authentication needs {path}:ApiKeySha256 or {path}:ApiKeysFile";
            }
        }
        if (AcceptsClientCertificates && (CertificateFile is null || ClientCaFile is null))
        {
            yield return $"{path}: client-certificate authentication needs {path}:CertificateFile, {path}:KeyFile and {path}:ClientCaFile (HTTPS)";
        }
        foreach (var (name, file) in new[] { ("CertificateFile", CertificateFile), ("KeyFile", KeyFile), ("ClientCaFile", ClientCaFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                yield return $"{path}:{name}: file '{file}' does not exist";
            }
        }
        if (CertificateFile is not null && KeyFile is null)
        {
            yield return $"{path}:KeyFile is required with {path}:CertificateFile";
        }
    }

    /// <summary>The configured key hashes and those of the keys file, as bytes.</summary>
    public IReadOnlyList<byte[]> LoadApiKeyHashes()
    {
        var hashes = new List<byte[]>();
        foreach (var hash in ApiKeySha256)
        {
            hashes.Add(Convert.FromHexString(hash));
        }
        if (ApiKeysFile is not null)
        {
            var number = 0;
            foreach (var line in File.ReadLines(ApiKeysFile))
            {
                number++;
                var text = line.Trim();
                if (text.Length == 0 || text.StartsWith('#'))
                {
                    continue;
                }
                if (!IsSha256Hex(text))
                {
                    // The line number only: the line might be a key pasted by mistake.
                    throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"{ApiKeysFile} line {number} is not 64 hex digits"));
                }
                hashes.Add(Convert.FromHexString(text));
            }
        }
        return hashes;
    }

    private static bool IsSha256Hex(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigit);
}
