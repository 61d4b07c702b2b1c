using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Cli;

public sealed class PolicyCommandTests
{
    [Fact]
    public void Validate_accepts_the_shipped_policy_with_exit_code_0()
    {
        var output = new StringWriter();
        Assert.Equal(0, PolicyCommand.Run(["validate", TestFiles.DefaultPolicy], output, new StringWriter()));
        Assert.Contains("valid policy solix-default@1+sha256.", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_lists_every_error_and_exits_1()
    {
        using var directory = new TempDirectory();
        var path = directory.File("bad.json");
        File.WriteAllText(path, """
            { "id": "p", "version": "1", "streams": { "s": { "topic": "a/#/b", "categories": ["wifi"],
              "purposes": { "marketing": { "legalBasis": "contract", "retention": "soon", "topic": "o", "fields": {} } } } } }
            """);
        var error = new StringWriter();
        Assert.Equal(1, PolicyCommand.Run(["validate", path], new StringWriter(), error));
        var text = error.ToString();
        Assert.Contains("4 error(s)", text, StringComparison.Ordinal);
        Assert.Contains("$.streams.s.topic", text, StringComparison.Ordinal);
        Assert.Contains("$.streams.s.categories[0]", text, StringComparison.Ordinal);
        Assert.Contains("$.streams.s.purposes.marketing.legalBasis", text, StringComparison.Ordinal);
        Assert.Contains("$.streams.s.purposes.marketing.retention", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_without_a_file_is_a_usage_error()
    {
        Assert.Equal(2, PolicyCommand.Run(["validate"], new StringWriter(), new StringWriter()));
    }
}
