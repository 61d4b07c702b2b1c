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

        var exit = UsersCommand.Run(["add", "installer-1", "--role", "installer", "--file", file], new StringWriter(), new StringWriter(), _ => "installer-pw-0001");

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
        Assert.Equal(2, UsersCommand.Run(["add", "x", "--role", "admin"], new StringWriter(), new StringWriter(), _ => "long-enough-pw-01"));
    }

    [Fact]
    public void Serial_for_a_role_other_than_device_is_a_usage_error()
    {
        Assert.Equal(2, UsersCommand.Run(["add", "x", "--role", "cloud", "--serial", "SN1"], new StringWriter(), new StringWriter(), _ => "long-enough-pw-01"));
    }

    [Fact]
    public void Missing_name_is_a_usage_error()
    {
        Assert.Equal(2, UsersCommand.Run(["add"], new StringWriter(), new StringWriter(), _ => "long-enough-pw-01"));
    }

    [Fact]
    public void Name_with_a_topic_separator_is_refused()
    {
        using var directory = new TempDirectory();

        Assert.Equal(1, UsersCommand.Run(["add", "a/b", "--file", directory.File("users.json")], new StringWriter(), new StringWriter(), _ => "long-enough-pw-01"));
    }

    [Fact]
    public void Add_refuses_a_password_shorter_than_12_characters_and_changes_nothing()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");
        var error = new StringWriter();

        var exit = UsersCommand.Run(["add", "device-1", "--file", file], new StringWriter(), error, _ => "eleven-char");

        Assert.Equal(1, exit);
        Assert.False(File.Exists(file));
        Assert.Contains("at least 12 characters", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Add_accepts_a_shorter_password_when_the_minimum_is_lowered()
    {
        using var directory = new TempDirectory();

        var exit = UsersCommand.Run(["add", "device-1", "--min-length", "8", "--file", directory.File("users.json")], new StringWriter(), new StringWriter(), _ => "eight-ch");

        Assert.Equal(0, exit);
    }

    [Fact]
    public void List_prints_each_user_with_its_role_and_never_a_password_hash()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");
        UsersCommand.Run(["add", "installer-1", "--role", "installer", "--file", file], new StringWriter(), new StringWriter(), _ => "installer-pw-0001");
        UsersCommand.Run(["add", "device-1", "--serial", "SN1", "--file", file], new StringWriter(), new StringWriter(), _ => "device-pw-000001");
        var output = new StringWriter();

        var exit = UsersCommand.Run(["list", "--file", file], output, new StringWriter(), _ => null);

        Assert.Equal(0, exit);
        Assert.Equal(["installer-1\tinstaller", "device-1\tdevice\tserial SN1"], output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.DoesNotContain("pbkdf2", output.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Remove_deletes_the_user_and_keeps_the_others()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");
        UsersCommand.Run(["add", "device-1", "--file", file], new StringWriter(), new StringWriter(), _ => "device-pw-000001");
        UsersCommand.Run(["add", "device-2", "--file", file], new StringWriter(), new StringWriter(), _ => "device-pw-000002");

        var exit = UsersCommand.Run(["remove", "device-1", "--file", file], new StringWriter(), new StringWriter(), _ => null);

        Assert.Equal(0, exit);
        Assert.Equal([("device-2", "device", (string?)null)], CredentialsFile.ListUsers(file));
        Assert.Empty(CredentialsFile.Validate(file));
    }

    [Fact]
    public void Remove_of_an_unknown_user_exits_1_and_changes_nothing()
    {
        using var directory = new TempDirectory();
        var file = directory.File("users.json");
        UsersCommand.Run(["add", "device-1", "--file", file], new StringWriter(), new StringWriter(), _ => "device-pw-000001");
        var before = File.ReadAllText(file);

        Assert.Equal(1, UsersCommand.Run(["remove", "device-9", "--file", file], new StringWriter(), new StringWriter(), _ => null));
        Assert.Equal(before, File.ReadAllText(file));
    }
}
