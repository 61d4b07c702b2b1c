using Microsoft.Extensions.Configuration;
using TelemetryGateway.Host.Configuration;

namespace TelemetryGateway.Host.Tests.Configuration;

public sealed class ConfigurationShapeTests
{
    private static IReadOnlyList<string> Check(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        return ConfigurationShape.Check(configuration.GetSection(GatewayOptions.SectionName));
    }

    [Fact]
    public void Values_of_the_wrong_type_are_all_reported_with_what_they_should_be()
    {
        var errors = Check(("Gateway:Mqtt:Port", "abc"), ("Gateway:Upstream:ReconnectMaxDelay", "5s"), ("Gateway:Admin:Enabled", "yes"));

        Assert.Equal(3, errors.Count);
        Assert.Contains("Gateway:Mqtt:Port: 'abc' is not a whole number", errors);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Upstream:ReconnectMaxDelay: '5s' is not a duration such as 00:00:05", StringComparison.Ordinal));
        Assert.Contains("Gateway:Admin:Enabled: 'yes' is not true or false", errors);
    }

    [Fact]
    public void An_unknown_key_is_reported_with_the_known_ones()
    {
        var errors = Check(("Gateway:Mqtt:Tranport", "tcp"), ("Gateway:Polcy:Path", "/etc/policy.json"));

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Gateway:Mqtt:Tranport: unknown setting", StringComparison.Ordinal) && e.Contains("Transport", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Gateway:Polcy: unknown setting", StringComparison.Ordinal));
    }

    [Fact]
    public void Keys_are_matched_without_regard_to_case_as_the_binder_does()
    {
        Assert.Empty(Check(("Gateway:mqtt:port", "1884"), ("GATEWAY:ADMIN:PORT", "9465")));
    }

    [Fact]
    public void Lists_dictionaries_nested_sections_and_the_http_ingress_section_are_accepted()
    {
        Assert.Empty(Check(
            ("Gateway:Admin:ApiKeySha256:0", new string('a', 64)),
            ("Gateway:Security:Limits:MaxPayloadBytesPerStream:firmware", "1000"),
            ("Gateway:Security:Tls:Enabled", "true"),
            ("Gateway:Http:Port", "8081"),
            ("Gateway:Http:ApiKeySha256:0", new string('b', 64)),
            ("Gateway:Policy:WatchInterval", "00:00:02"),
            ("Gateway:Upstream:Url", "mqtts://ingest.example.invalid:8883")));
    }

    [Fact]
    public void A_wrong_value_inside_a_dictionary_is_reported()
    {
        var errors = Check(("Gateway:Security:Limits:MaxPayloadBytesPerStream:firmware", "1kB"));

        Assert.Equal(["Gateway:Security:Limits:MaxPayloadBytesPerStream:firmware: '1kB' is not a whole number"], errors);
    }

    [Fact]
    public void The_shipped_site_environment_file_has_no_unknown_or_mistyped_setting()
    {
        var settings = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "deploy", "config", "site.environment"))
            .Where(line => line.StartsWith("Gateway__", StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .Select(pair => (pair[0].Replace("__", ":", StringComparison.Ordinal), pair[1]))
            .ToArray();

        Assert.NotEmpty(settings);
        Assert.Empty(Check(settings));
    }
}
