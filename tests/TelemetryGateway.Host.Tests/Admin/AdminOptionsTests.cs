using TelemetryGateway.Host.Admin;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Admin;

public sealed class AdminOptionsTests
{
    [Fact]
    public void Defaults_are_loopback_port_9464_without_a_key()
    {
        var options = new AdminOptions();

        Assert.Empty(options.Validate(AdminOptions.SectionName));
        Assert.Equal(9464, options.Port);
        Assert.False(options.RequiresCredentials);
        Assert.Empty(options.LoadApiKeyHashes());
    }

    [Fact]
    public void Off_loopback_without_a_key_is_an_error()
    {
        var errors = new AdminOptions { BindAddress = "0.0.0.0" }.Validate(AdminOptions.SectionName).ToList();

        Assert.Equal(["Gateway:Admin: a BindAddress off loopback needs Gateway:Admin:ApiKeySha256 or Gateway:Admin:ApiKeysFile"], errors);
    }

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var errors = new AdminOptions { Port = 70000, ApiKeySha256 = ["not-a-hash"] }.Validate(AdminOptions.SectionName).ToList();

        Assert.Equal(2, errors.Count);
        Assert.Contains("Gateway:Admin:Port must be between 1 and 65535", errors);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Admin:ApiKeySha256:0 must be 64 hex digits", StringComparison.Ordinal));
    }

    [Fact]
    public void A_disabled_listener_is_not_validated()
    {
        Assert.Empty(new AdminOptions { Enabled = false, BindAddress = "0.0.0.0", Port = 0 }.Validate(AdminOptions.SectionName));
    }

    [Fact]
    public void Keys_from_a_file_are_loaded_off_loopback()
    {
        using var directory = new TempDirectory();
        var file = directory.File("admin-keys");
        File.WriteAllLines(file, ["# prometheus", new string('c', 64), ""]);
        var options = new AdminOptions { BindAddress = "10.0.0.5", ApiKeysFile = file };

        Assert.Empty(options.Validate(AdminOptions.SectionName));
        Assert.True(options.RequiresCredentials);
        Assert.Single(options.LoadApiKeyHashes());
    }
}
