using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Tls;

namespace TelemetryGateway.Mqtt.Tests.Security;

/// <summary>Server certificate loading (PEM, PFX) and the client-certificate check, with certificates made here.</summary>
public sealed class TlsCredentialsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-tls-").FullName;
    private readonly X509Certificate2 _ca;

    public TlsCredentialsTests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(10));
        File.WriteAllText(Path("ca.pem"), _ca.ExportCertificatePem());
    }

    private string Path(string name) => System.IO.Path.Combine(_directory, name);

    private static X509Certificate2 Issue(X509Certificate2 issuer, string name, DateTimeOffset notBefore, DateTimeOffset notAfter, string usage)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        using var certificate = request.Create(issuer, notBefore, notAfter, [1, 2, 3, 4]);
        return certificate.CopyWithPrivateKey(key);
    }

    private static X509Certificate2 ClientCertificate(X509Certificate2 issuer, int validFromDays = -1, int validToDays = 1) =>
        Issue(issuer, "SN1", DateTimeOffset.UtcNow.AddDays(validFromDays), DateTimeOffset.UtcNow.AddDays(validToDays), "1.3.6.1.5.5.7.3.2");

    private TlsCredentials LoadPem(string clientCertificates = "optional")
    {
        using var server = Issue(_ca, "127.0.0.1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), "1.3.6.1.5.5.7.3.1");
        File.WriteAllText(Path("server.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path("server.key"), server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return TlsCredentials.Load(new TlsListenerOptions
        {
            Enabled = true,
            CertificateFile = Path("server.pem"),
            KeyFile = Path("server.key"),
            ClientCertificates = clientCertificates,
            ClientCaFile = Path("ca.pem"),
        });
    }

    [Fact]
    public void Pem_certificate_with_its_key_file_loads()
    {
        using var credentials = LoadPem();

        Assert.True(credentials.ServerCertificate.HasPrivateKey);
    }

    [Fact]
    public void Pfx_certificate_with_its_password_loads()
    {
        using var server = Issue(_ca, "127.0.0.1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), "1.3.6.1.5.5.7.3.1");
        File.WriteAllBytes(Path("server.pfx"), server.Export(X509ContentType.Pfx, "pfx-pass"));

        using var credentials = TlsCredentials.Load(new TlsListenerOptions { Enabled = true, CertificateFile = Path("server.pfx"), CertificatePassword = "pfx-pass" });

        Assert.True(credentials.ServerCertificate.HasPrivateKey);
    }

    [Fact]
    public void Pfx_with_a_wrong_password_fails_with_a_cryptographic_error()
    {
        using var server = Issue(_ca, "127.0.0.1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), "1.3.6.1.5.5.7.3.1");
        File.WriteAllBytes(Path("server.pfx"), server.Export(X509ContentType.Pfx, "pfx-pass"));

        Assert.ThrowsAny<CryptographicException>(() =>
            TlsCredentials.Load(new TlsListenerOptions { Enabled = true, CertificateFile = Path("server.pfx"), CertificatePassword = "wrong" }));
    }

    [Fact]
    public void Certificate_from_the_client_ca_within_its_validity_is_accepted()
    {
        using var credentials = LoadPem();
        using var client = ClientCertificate(_ca);

        Assert.True(credentials.ValidateClientCertificate(client));
    }

    [Fact]
    public void Expired_client_certificate_is_refused()
    {
        using var credentials = LoadPem();
        using var client = ClientCertificate(_ca, validFromDays: -5, validToDays: -1);

        Assert.False(credentials.ValidateClientCertificate(client));
    }

    [Fact]
    public void Client_certificate_from_another_ca_is_refused()
    {
        using var credentials = LoadPem();
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherRequest = new CertificateRequest("CN=other-ca", otherKey, HashAlgorithmName.SHA256);
        otherRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var otherCa = otherRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(10));
        using var client = ClientCertificate(otherCa);

        Assert.False(credentials.ValidateClientCertificate(client));
    }

    [Fact]
    public void Certificate_for_servers_only_is_refused_as_a_client_certificate()
    {
        using var credentials = LoadPem();
        using var serverOnly = Issue(_ca, "SN1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), "1.3.6.1.5.5.7.3.1");

        Assert.False(credentials.ValidateClientCertificate(serverOnly));
    }

    [Fact]
    public void No_client_certificate_is_fine_when_optional()
    {
        using var credentials = LoadPem("optional");

        Assert.True(credentials.ValidateClientCertificate(null));
    }

    [Fact]
    public void No_client_certificate_is_refused_when_required()
    {
        using var credentials = LoadPem("required");

        Assert.False(credentials.ValidateClientCertificate(null));
    }

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
