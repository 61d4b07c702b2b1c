using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Security;

namespace TelemetryGateway.Host.Tests.Configuration;

public sealed class SecurityOptionsTests
{
    private static GatewayOptions Options(SiteBrokerOptions broker, SecurityOptions security) =>
        new() { Policy = new PolicyOptions { Path = TestFiles.DefaultPolicy }, Mqtt = broker, Security = security };

    [Fact]
    public void Defaults_are_valid_anonymous_on_loopback()
    {
        Assert.Empty(Options(new SiteBrokerOptions(), new SecurityOptions()).Validate());
    }

    [Fact]
    public void Anonymous_access_on_a_network_bind_is_an_error()
    {
        var errors = Options(new SiteBrokerOptions { BindAddress = "0.0.0.0" }, new SecurityOptions()).Validate();

        Assert.Contains(errors, e => e.Contains("AllowAnonymousOnNetwork", StringComparison.Ordinal));
    }

    [Fact]
    public void Anonymous_access_on_a_network_bind_is_allowed_by_the_explicit_override()
    {
        Assert.Empty(Options(new SiteBrokerOptions { BindAddress = "0.0.0.0" }, new SecurityOptions { AllowAnonymousOnNetwork = true }).Validate());
    }

    [Fact]
    public void Network_bind_without_anonymous_access_is_valid()
    {
        Assert.Empty(Options(new SiteBrokerOptions { BindAddress = "0.0.0.0" }, new SecurityOptions { AllowAnonymous = false }).Validate());
    }

    [Fact]
    public void Every_security_error_is_reported_at_once()
    {
        var security = new SecurityOptions
        {
            Tls = new TlsListenerOptions { Enabled = true, Port = 70000, ClientCertificates = "sometimes" },
            Limits = new ConnectionLimitOptions { MaxPacketBytes = 10, MaxConnections = 0, PublishesPerSecond = 0, MaxTopicLevels = 0, ConnectTimeout = TimeSpan.Zero },
        };

        var errors = Options(new SiteBrokerOptions(), security).Validate();

        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Tls:Port", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Tls:CertificateFile", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Tls:ClientCertificates", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:MaxPacketBytes", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:MaxConnections ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:PublishesPerSecond", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:MaxTopicLevels", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:ConnectTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_error_of_the_hardening_limits_is_reported_at_once()
    {
        var security = new SecurityOptions
        {
            Limits = new ConnectionLimitOptions
            {
                TopicAliasMaximum = 70_000,
                MaxSessionExpiry = TimeSpan.Zero,
                MaxSessionsPerIdentity = 0,
                MaxSubscriptionsPerClient = 10,
                MaxFiltersPerSubscribe = 11,
                MaxPendingLogins = 0,
                LoginFailuresBeforeBackoff = 0,
                LoginBackoff = TimeSpan.FromMinutes(5),
                AnonymousPublishesPerSecond = 0,
                ClientIdPatterns = new(StringComparer.Ordinal) { ["device"] = "fixed-id", ["installer"] = "{serial}*", ["cloud"] = "a*{name}", ["admin"] = "{name}" },
                QuarantineAggregationInterval = TimeSpan.FromHours(2),
            },
        };

        var errors = Options(new SiteBrokerOptions(), security).Validate();

        string[] expected =
        [
            "TopicAliasMaximum", "MaxSessionExpiry", "MaxSessionsPerIdentity", "MaxFiltersPerSubscribe", "MaxPendingLogins ",
            "MaxPendingLoginsPerAddress", "LoginFailuresBeforeBackoff", "LoginBackoff", "AnonymousPublishesPerSecond",
            "ClientIdPatterns:device", "ClientIdPatterns:installer", "ClientIdPatterns:cloud", "ClientIdPatterns:admin", "QuarantineAggregationInterval",
        ];
        Assert.All(expected, name => Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Limits:" + name, StringComparison.Ordinal)));
    }

    [Fact]
    public void Default_client_id_patterns_bind_devices_to_their_serial_and_others_to_their_name()
    {
        var limits = new ConnectionLimitOptions();

        Assert.Equal("{serial}*", limits.ClientIdPattern("device"));
        Assert.Equal("{name}*", limits.ClientIdPattern("installer"));
        Assert.Equal("{name}*", limits.ClientIdPattern("cloud"));
    }

    [Fact]
    public void Accepting_client_certificates_needs_a_client_ca()
    {
        using var directory = new TempDirectory();
        var certificate = directory.File("server.pem");
        File.WriteAllText(certificate, "placeholder");
        var security = new SecurityOptions { Tls = new TlsListenerOptions { Enabled = true, CertificateFile = certificate, ClientCertificates = "required" } };

        var errors = Options(new SiteBrokerOptions(), security).Validate();

        Assert.Contains(errors, e => e.StartsWith("Gateway:Security:Tls:ClientCaFile", StringComparison.Ordinal));
    }

    [Fact]
    public void No_plain_listener_needs_the_tls_listener()
    {
        var errors = Options(new SiteBrokerOptions { Port = 0 }, new SecurityOptions()).Validate();

        Assert.Contains(errors, e => e.Contains("Gateway:Mqtt:Port may be 0", StringComparison.Ordinal));
    }
}
