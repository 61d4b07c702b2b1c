using System.Text;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Mqtt.Tests.Security;

public sealed class CredentialStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-credentials-").FullName;

    private string File => Path.Combine(_directory, "users.json");

    private void Add(string name, IdentityRole role, string password, string? serial = null) =>
        CredentialsFile.AddUser(File, name, role, serial, password, PasswordHash.MinimumIterations);

    [Fact]
    public async Task Known_user_with_the_right_password_gets_its_identity()
    {
        Add("device-1", IdentityRole.Device, "pw-1", "SN1");
        using var store = new CredentialStore(File);

        var identity = await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("pw-1"), CancellationToken.None);

        Assert.Equal(new Identity("device-1", IdentityRole.Device, "SN1"), identity);
    }

    [Fact]
    public async Task Wrong_password_gets_no_identity()
    {
        Add("device-1", IdentityRole.Device, "pw-1", "SN1");
        using var store = new CredentialStore(File);

        Assert.Null(await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("pw-2"), CancellationToken.None));
    }

    [Fact]
    public async Task Unknown_user_gets_no_identity()
    {
        Add("device-1", IdentityRole.Device, "pw-1", "SN1");
        using var store = new CredentialStore(File);

        Assert.Null(await store.AuthenticateAsync("nobody", Encoding.UTF8.GetBytes("pw-1"), CancellationToken.None));
    }

    [Fact]
    public void Device_without_a_serial_publishes_under_its_name()
    {
        Add("SN7", IdentityRole.Device, "pw");
        using var store = new CredentialStore(File);

        Assert.Equal("SN7", store.Find("SN7")!.Serial);
    }

    [Fact]
    public async Task Changed_password_applies_without_a_restart()
    {
        Add("device-1", IdentityRole.Device, "old", "SN1");
        using var store = new CredentialStore(File);
        Assert.NotNull(await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("old"), CancellationToken.None));

        Add("device-1", IdentityRole.Device, "new", "SN1");

        Assert.Null(await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("old"), CancellationToken.None));
        Assert.NotNull(await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("new"), CancellationToken.None));
    }

    [Fact]
    public async Task Broken_file_keeps_the_previous_users()
    {
        Add("device-1", IdentityRole.Device, "pw", "SN1");
        using var store = new CredentialStore(File);
        Assert.Equal(1, store.Count);

        await System.IO.File.WriteAllTextAsync(File, "{ not json");

        Assert.NotNull(await store.AuthenticateAsync("device-1", Encoding.UTF8.GetBytes("pw"), CancellationToken.None));
    }

    [Fact]
    public void Every_error_of_the_file_is_reported_without_names()
    {
        System.IO.File.WriteAllText(File, """
            {"users": [
              {"name": "secret-name-1", "role": "admin", "password": "x"},
              {"name": "a/b", "role": "device", "password": "x"},
              {"name": "secret-name-3", "role": "device", "password": "plain"}
            ]}
            """);

        var errors = CredentialsFile.Validate(File);

        Assert.Equal(3, errors.Count);
        Assert.DoesNotContain(errors, e => e.Contains("secret-name", StringComparison.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void File_is_readable_by_its_owner_only()
    {
        Add("device-1", IdentityRole.Device, "pw", "SN1");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, System.IO.File.GetUnixFileMode(File));
    }

    [Fact]
    public void Absent_file_means_no_users()
    {
        using var store = new CredentialStore(File);

        Assert.Equal(0, store.Count);
        Assert.Empty(CredentialsFile.Validate(File));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
