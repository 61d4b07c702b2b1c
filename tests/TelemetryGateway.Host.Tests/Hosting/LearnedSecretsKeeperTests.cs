using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Host.Hosting;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Hosting;

/// <summary>The learned values outlive a restart of the gateway when persisted, and only then; a bad file never stops it.</summary>
public sealed class LearnedSecretsKeeperTests
{
    private static readonly PseudonymizationKey Key = PseudonymizationKey.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)(i * 3)).ToArray());

    [Fact]
    public async Task Values_learned_before_a_stop_are_there_after_the_next_start()
    {
        using var directory = new TempDirectory();
        var first = new LearnedSecrets();
        var keeper = Keeper(first, new LearnedSecretsOptions(), directory.Path);
        await keeper.StartAsync(CancellationToken.None);
        first.Learn("dev-1", LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        await keeper.StopAsync(CancellationToken.None);

        var file = directory.File(LearnedSecretsFile.FileName);
        Assert.True(File.Exists(file));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        var second = new LearnedSecrets();
        await Keeper(second, new LearnedSecretsOptions(), directory.Path).StartAsync(CancellationToken.None);
        Assert.Equal(1, second.Count);
        Assert.True(second.Current.Find("k=tulip-reed-93"u8, 0, out _, out var kind) > 0);
        Assert.Equal(LearnedClass.WifiSecret, kind);
    }

    [Fact]
    public async Task Nothing_is_written_when_persistence_is_off()
    {
        using var directory = new TempDirectory();
        var secrets = new LearnedSecrets();
        var keeper = Keeper(secrets, new LearnedSecretsOptions { Persist = false }, directory.Path);
        await keeper.StartAsync(CancellationToken.None);
        secrets.Learn("dev-1", LearnedClass.WifiSecret, "tulip-Reed-93"u8);
        await keeper.StopAsync(CancellationToken.None);

        Assert.False(File.Exists(directory.File(LearnedSecretsFile.FileName)));
    }

    [Fact]
    public async Task A_damaged_file_is_discarded_and_the_gateway_starts()
    {
        using var directory = new TempDirectory();
        File.WriteAllBytes(directory.File(LearnedSecretsFile.FileName), Encoding.UTF8.GetBytes("TGLS1 not really encrypted"));
        var secrets = new LearnedSecrets();

        await Keeper(secrets, new LearnedSecretsOptions(), directory.Path).StartAsync(CancellationToken.None);

        Assert.Equal(0, secrets.Count);
        Assert.False(File.Exists(directory.File(LearnedSecretsFile.FileName)));
    }

    [Fact]
    public void Options_report_every_error_at_once()
    {
        var errors = new LearnedSecretsOptions { MaxValues = 0, MaxBytes = 1, Expiry = TimeSpan.Zero, SaveInterval = TimeSpan.Zero }.Validate("Gateway:LearnedSecrets").ToList();

        Assert.Equal(4, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("Gateway:LearnedSecrets:", e, StringComparison.Ordinal));
    }

    private static LearnedSecretsKeeper Keeper(LearnedSecrets secrets, LearnedSecretsOptions options, string directory) =>
        new(secrets, options, directory, Key, NullLogger<LearnedSecretsKeeper>.Instance, TimeProvider.System);
}
