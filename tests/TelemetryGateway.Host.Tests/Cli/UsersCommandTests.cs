using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Tests.Support;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Host.Tests.Cli;

public sealed class UsersCommandTests
{
    [Fact]
    public void Add_writes_a_user_with_its_role_and_exits_0()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");

        var exit = UsersCommand.Run(["add", "installer-1", "--role", "installer", "--file", file], new StringWriter(), new StringWriter(), _ => "pw-1");

        Assert.Equal(0, exit);
        Assert.Contains("\"role\": \"installer\"", File.ReadAllText(file), StringComparison.Ordinal);
        Assert.Empty(CredentialsFile.Validate(file));
    }

    [Fact]
    public void Add_prints_nothing_of_the_password()
    {
        using var directory = new TempDirectory();
        var output = new StringWriter();
        var error = new StringWriter();

        UsersCommand.Run(["add", "device-1", "--file", directory.File("users.json")], output, error, _ => "visible-secret-9");

        Assert.DoesNotContain("visible-secret-9", output.ToString() + error, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_without_a_password_changes_nothing_and_exits_1()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");

        var exit = UsersCommand.Run(["add", "device-1", "--file", file], new StringWriter(), new StringWriter(), _ => null);

        Assert.Equal(1, exit);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void Unknown_role_is_a_usage_error()
    {
        Assert.Equal(2, UsersCommand.Run(["add", "x", "--role", "admin"], new StringWriter(), new StringWriter(), _ => "pw"));
    }

    [Fact]
    public void Serial_for_a_role_other_than_device_is_a_usage_error()
    {
        Assert.Equal(2, UsersCommand.Run(["add", "x", "--role", "cloud", "--serial", "SN1"], new StringWriter(), new StringWriter(), _ => "pw"));
    }

    [Fact]
    public void Missing_name_is_a_usage_error()
    {
        Assert.Equal(2, UsersCommand.Run(["add"], new StringWriter(), new StringWriter(), _ => "pw"));
    }

    [Fact]
    public void Name_with_a_topic_separator_is_refused()
    {
        using var directory = new TempDirectory();

        Assert.Equal(1, UsersCommand.Run(["add", "a/b", "--file", directory.File("users.json")], new StringWriter(), new StringWriter(), _ => "pw"));
    }
}
