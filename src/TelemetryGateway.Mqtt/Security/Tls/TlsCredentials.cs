using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TelemetryGateway.Mqtt.Security.Tls;

/// <summary>
/// The TLS listener's material: the server certificate (PEM with its key, or PFX) and the client CA, and the check of a
/// client certificate against that CA alone (not the system store): chain, validity period, client-authentication use.
/// </summary>
internal sealed class TlsCredentials : IDisposable
{
    /// <summary>TLS 1.2 and 1.3 only.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    private readonly X509Certificate2Collection _clientCas = [];

    private TlsCredentials(X509Certificate2 serverCertificate, TlsListenerOptions options)
    {
        ServerCertificate = serverCertificate;
        Options = options;
        if (options.AcceptsClientCertificates && options.ClientCaFile is { } caFile)
        {
            _clientCas.ImportFromPemFile(caFile);
        }
    }

    public X509Certificate2 ServerCertificate { get; }
    public TlsListenerOptions Options { get; }
    public bool RequiresClientCertificate => Options.ClientCertificates == "required";

    /// <summary>Loads the files named in <paramref name="options"/>; throws <see cref="CryptographicException"/> when they are unusable.</summary>
    public static TlsCredentials Load(TlsListenerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = options.CertificateFile!;
        X509Certificate2 certificate;
        if (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, options.CertificatePassword);
        }
        else
        {
            certificate = options.CertificatePassword is { } password
                ? X509Certificate2.CreateFromEncryptedPemFile(path, password, options.KeyFile)
                : X509Certificate2.CreateFromPemFile(path, options.KeyFile);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new CryptographicException("the server certificate has no private key");
        }
        return new TlsCredentials(certificate, options);
    }

    /// <summary>
    /// The TLS layer's verdict on a client certificate: absent is fine unless required; present, it must chain to the
    /// client CA, be within its validity period and (when it says) be meant for client authentication.
    /// </summary>
    public bool ValidateClientCertificate(X509Certificate? presented)
    {
        if (presented is null)
        {
            return !RequiresClientCertificate;
        }
        if (_clientCas.Count == 0)
        {
            return false;
        }
        var certificate = presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(certificate);
    }

    /// <summary>The callback SslStream (MQTTnet's TCP transport) or Kestrel calls with the client's certificate.</summary>
    public bool ValidateClientCertificate(X509Certificate? certificate, SslPolicyErrors errors) => ValidateClientCertificate(certificate);

    public void Dispose() => ServerCertificate.Dispose();
}
