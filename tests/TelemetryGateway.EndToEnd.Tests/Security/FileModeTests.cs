using System.Runtime.Versioning;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>The data directory and the gateway's files in it are its own, whatever the umask it was started with.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class FileModeTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;

    [Fact]
    public async Task Data_directory_outbox_and_quarantine_records_are_owner_only_under_umask_000()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("state/data");
        await using var gateway = await GatewayProcess.StartWithUmaskAsync("000", data);
        await using (var device = await Client.ConnectAsync(gateway.Port, "modes-1"))
        {
            // Not JSON on the status stream: quarantined, so the quarantine file gets its first record.
            await device.PublishAsync("dt/anker_power/A17C0/SN00000000000001/status", "not json");
        }
        var quarantine = Path.Combine(data, "quarantine.ndjson");
        Assert.True(await Loopback.EventuallyAsync(() => File.Exists(quarantine) && new FileInfo(quarantine).Length > 0, TimeSpan.FromSeconds(10)), gateway.Output);

        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(data));
        Assert.Equal(Private, File.GetUnixFileMode(quarantine));
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(data, "outbox.db")));
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(data, "outbox.db-wal")));
        var shm = Path.Combine(data, "outbox.db-shm");
        if (File.Exists(shm))
        {
            Assert.Equal(Private, File.GetUnixFileMode(shm));
        }
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(data, "pseudonymization.key")));
    }

    [Fact]
    public async Task Files_left_readable_by_others_are_narrowed_at_start()
    {
        using var temp = new TempDirectory();
        var data = temp.DataDirectory;
        Directory.CreateDirectory(data);
        var quarantine = Path.Combine(data, "quarantine.ndjson");
        var outbox = Path.Combine(data, "outbox.db");
        await File.WriteAllTextAsync(quarantine, "");
        await File.WriteAllBytesAsync(outbox, []);
        File.SetUnixFileMode(quarantine, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(outbox, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await using var gateway = await GatewayProcess.StartAsync(data, $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");

        Assert.Equal(Private, File.GetUnixFileMode(quarantine));
        Assert.Equal(Private, File.GetUnixFileMode(outbox));
    }
}
