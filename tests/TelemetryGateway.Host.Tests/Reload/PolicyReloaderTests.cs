using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Host.Reload;
using TelemetryGateway.Host.Tests.Support;

namespace TelemetryGateway.Host.Tests.Reload;

public sealed class PolicyReloaderTests
{
    private static (PolicyReloader Reloader, PolicyGenerations Generations) Reloader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var generations = new PolicyGenerations(PolicyCompiler.Compile(bytes).Policy!, path);
        return (new PolicyReloader(generations, path, bytes, TimeProvider.System, NullLogger<PolicyReloader>.Instance), generations);
    }

    [Fact]
    public void A_valid_file_becomes_the_next_generation_with_its_hash()
    {
        using var directory = new TempDirectory();
        var path = directory.File("policy.json");
        File.Copy(TestFiles.DefaultPolicy, path);
        var (reloader, generations) = Reloader(path);
        var before = reloader.Running;
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"version\": \"1\"", "\"version\": \"2\"", StringComparison.Ordinal));

        var result = reloader.Reload("test");

        Assert.True(result.Succeeded);
        Assert.Equal(2, generations.Current.Number);
        Assert.Equal(2, reloader.Running.Generation);
        Assert.StartsWith("2+sha256.", reloader.Running.Version, StringComparison.Ordinal);
        Assert.NotEqual(before.Sha256, reloader.Running.Sha256);
        Assert.Equal(1, reloader.SucceededCount);
        Assert.Equal(0, reloader.FailedCount);
    }

    [Fact]
    public void An_invalid_file_keeps_the_running_generation_and_counts_a_failure()
    {
        using var directory = new TempDirectory();
        var path = directory.File("policy.json");
        File.Copy(TestFiles.DefaultPolicy, path);
        var (reloader, generations) = Reloader(path);
        var running = generations.Current;
        File.WriteAllText(path, "{ \"id\": 3 }");

        var result = reloader.Reload("test");

        Assert.False(result.Succeeded);
        Assert.NotEmpty(result.Errors);
        Assert.Same(running, generations.Current);
        Assert.Equal(1, reloader.Running.Generation);
        Assert.Equal(1, reloader.FailedCount);
    }

    [Fact]
    public void A_missing_file_keeps_the_running_generation_and_counts_a_failure()
    {
        using var directory = new TempDirectory();
        var path = directory.File("policy.json");
        File.Copy(TestFiles.DefaultPolicy, path);
        var (reloader, generations) = Reloader(path);
        File.Delete(path);

        var result = reloader.Reload("test");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.StartsWith("cannot read the policy file", StringComparison.Ordinal));
        Assert.Equal(1, generations.Current.Number);
        Assert.Equal(1, reloader.FailedCount);
    }
}
