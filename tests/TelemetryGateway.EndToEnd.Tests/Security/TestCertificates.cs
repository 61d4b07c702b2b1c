using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// Certificates made at test time with .NET's CertificateRequest (ECDSA P-256), written as PEM files: a CA, a server
/// certificate for 127.0.0.1, and client certificates (valid, expired, or signed by a CA the gateway does not trust).
/// </summary>
internal sealed class TestCertificates
{
    private readonly string _directory;

    public TestCertificates(string directory)
    {
        _directory = directory;
        (Ca, _caKey) = CreateCa("telemetry-test-ca");
        CaFile = WritePem("ca", Ca, null);
        (var server, var serverKey) = Issue(Ca, _caKey, "127.0.0.1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2), server: true);
        (ServerCertificateFile, ServerKeyFile) = (WritePem("server", server, null), WriteKey("server", serverKey));
        (OtherCa, _otherCaKey) = CreateCa("someone-else-ca");
    }

    private readonly ECDsa _caKey;
    private readonly ECDsa _otherCaKey;

    public X509Certificate2 Ca { get; }
    public X509Certificate2 OtherCa { get; }
    public string CaFile { get; }
    public string ServerCertificateFile { get; }
    public string ServerKeyFile { get; }

    /// <summary>A client certificate with subject <paramref name="commonName"/>; returns its PEM certificate and key files.</summary>
    public (string Certificate, string Key) Client(string name, string commonName, bool expired = false, bool untrusted = false)
    {
        var notBefore = expired ? DateTimeOffset.UtcNow.AddDays(-10) : DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = expired ? DateTimeOffset.UtcNow.AddDays(-5) : DateTimeOffset.UtcNow.AddDays(2);
        var (certificate, key) = untrusted
            ? Issue(OtherCa, _otherCaKey, commonName, notBefore, notAfter, server: false)
            : Issue(Ca, _caKey, commonName, notBefore, notAfter, server: false);
        return (WritePem(name, certificate, null), WriteKey(name, key));
    }

    /// <summary>
    /// An HTTPS client of <paramref name="baseAddress"/> that trusts <paramref name="authority"/> alone and presents
    /// <paramref name="certificate"/> (none when null).
    /// </summary>
    public static HttpClient HttpsClient(Uri baseAddress, X509Certificate2 authority, X509Certificate2? certificate)
    {
#pragma warning disable CA2000 // The handler is disposed with the client.
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, server, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(authority);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return server is not null && chain.Build(server);
            },
        };
#pragma warning restore CA2000
        if (certificate is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(certificate);
        }
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    private static (X509Certificate2, ECDsa) CreateCa(string name)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return (request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30)), key);
    }

    private static (X509Certificate2, ECDsa) Issue(X509Certificate2 ca, ECDsa caKey, string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter, bool server)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        // The CA certificate came from CreateSelfSigned, so it carries its key already.
        _ = caKey;
        return (request.Create(ca, notBefore, notAfter, serial), key);
    }

    private string WritePem(string name, X509Certificate2 certificate, string? suffix)
    {
        var path = Path.Combine(_directory, $"{name}{suffix}.pem");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    private string WriteKey(string name, ECDsa key)
    {
        var path = Path.Combine(_directory, $"{name}.key");
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem());
        return path;
    }
}
