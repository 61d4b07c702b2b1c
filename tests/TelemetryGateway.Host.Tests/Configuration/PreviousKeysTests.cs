using Microsoft.Extensions.Configuration;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Configuration;

/// <summary>
/// <c>Gateway:Pseudonymization:PreviousKeyFiles</c>: keys rotated out, bound from configuration and checked with every
/// error at once; a device's pseudonyms are given under the current key and under each of them.
/// </summary>
public sealed class PreviousKeysTests
{
    [Fact]
    public void Previous_key_files_bind_and_each_bad_one_is_reported_by_its_index()
    {
        using var directory = new TempDirectory();
        var good = Path.Combine(directory.Path, "2025.key");
        var tooShort = Path.Combine(directory.Path, "short.key");
        File.WriteAllBytes(good, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.WriteAllBytes(tooShort, new byte[8]);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Pseudonymization:PreviousKeyFiles:0"] = good,
            ["Gateway:Pseudonymization:PreviousKeyFiles:1"] = tooShort,
            ["Gateway:Pseudonymization:PreviousKeyFiles:2"] = Path.Combine(directory.Path, "missing.key"),
        }).Build();
        var section = configuration.GetSection(GatewayOptions.SectionName);
        Assert.Empty(ConfigurationShape.Check(section));

        var options = (section.Get<GatewayOptions>() ?? new GatewayOptions()) with { Policy = new PolicyOptions { Path = TestFiles.DefaultPolicy } };

        Assert.Equal(3, options.Pseudonymization.PreviousKeyFiles.Length);
        Assert.Equal(
            [
                "Gateway:Pseudonymization:PreviousKeyFiles:1: the key must be at least 32 bytes",
                $"Gateway:Pseudonymization:PreviousKeyFiles:2: file '{Path.Combine(directory.Path, "missing.key")}' does not exist",
            ],
            options.Validate());
    }

    [Fact]
    public void A_device_has_one_pseudonym_per_key_each_named_by_its_key_id()
    {
        var current = TelemetryGateway.Core.Keys.PseudonymizationKey.FromBytes(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var previous = TelemetryGateway.Core.Keys.PseudonymizationKey.FromBytes(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var pseudonyms = new DevicePseudonyms(current, [previous]).Of("SERIALCANARY0001");

        Assert.Equal([(current.Id, true), (previous.Id, false)], pseudonyms.Select(p => (p.KeyId, p.Current)));
        Assert.Equal(2, pseudonyms.Select(p => p.Pseudonym).Distinct().Count());
        Assert.Equal(pseudonyms, new DevicePseudonyms(current, [previous]).Of("SERIALCANARY0001"));
    }
}
