using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Policy;

/// <summary>Policy generations: a valid reload swaps atomically and keeps the counts, an invalid one changes nothing.</summary>
public sealed class PolicyGenerationsTests
{
    private const string FirmwareTopic = "dt/anker_power/A17C0/SERIALCANARY0001/firmware";

    [Fact]
    public void A_valid_reload_swaps_in_the_next_generation_and_carries_the_counters_over()
    {
        var generations = new PolicyGenerations(PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath));
        var first = generations.Current;
        using (var minimizer = new Minimizer(first.Policy, TestPolicies.Key))
        {
            minimizer.Minimize(FirmwareTopic, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"sn":"SERIALCANARY0001"}""")));
        }
        PolicyGeneration? announced = null;
        generations.Swapped += generation => announced = generation;

        var reload = generations.Reload(VersionTwo());

        Assert.True(reload.Succeeded, string.Join("\n", reload.Errors));
        Assert.Same(reload.Current, generations.Current);
        Assert.Same(reload.Current, announced);
        Assert.Equal(2, generations.Current.Number);
        Assert.StartsWith("solix-default@2+", generations.Current.Policy.Tag, StringComparison.Ordinal);
        var firmware = generations.Current.Policy.Streams.Single(s => s.Name == "firmware").Purposes.Single(p => p.Purpose == Purpose.AfterSalesService);
        Assert.Equal(1, firmware.Counters[ProcessingAction.Forwarded]);
        Assert.StartsWith("solix-default@1+", first.Policy.Tag, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_reload_keeps_the_current_generation_and_reports_every_error()
    {
        var generations = new PolicyGenerations(TestPolicies.Default);
        var current = generations.Current;
        var swapped = false;
        generations.Swapped += _ => swapped = true;

        var reload = generations.Reload(Encoding.UTF8.GetBytes("""
            { "id": "p", "version": "1", "streams": { "s": { "topic": "a/#/b", "categories": ["wifi"],
              "purposes": { "marketing": { "legalBasis": "contract", "retention": "soon", "topic": "o", "fields": {} } } } } }
            """));

        Assert.False(reload.Succeeded);
        Assert.Equal(4, reload.Errors.Count);
        Assert.Same(current, generations.Current);
        Assert.Same(current, reload.Current);
        Assert.False(swapped);
    }

    [Fact]
    public void A_policy_an_added_check_refuses_is_not_swapped_in_and_every_check_s_errors_are_reported()
    {
        var generations = new PolicyGenerations(TestPolicies.Default);
        generations.AddValidator(_ => ["routes: stream gone"]);
        generations.AddValidator(_ => ["limits: stream gone"]);

        var reload = generations.Reload(VersionTwo());

        Assert.False(reload.Succeeded);
        Assert.Equal(["routes: stream gone", "limits: stream gone"], reload.Errors);
        Assert.Equal(1, generations.Current.Number);
    }

    [Fact]
    public void Reloading_reads_the_policy_file_again()
    {
        var directory = Directory.CreateTempSubdirectory("tg-generations-").FullName;
        try
        {
            var path = Path.Combine(directory, "policy.json");
            File.Copy(TestPolicies.DefaultPolicyPath, path);
            var generations = new PolicyGenerations(PolicyCompiler.CompileFile(path), path);
            File.WriteAllBytes(path, VersionTwo());

            var reload = generations.Reload();

            Assert.True(reload.Succeeded, string.Join("\n", reload.Errors));
            Assert.StartsWith("solix-default@2+", generations.Current.Policy.Tag, StringComparison.Ordinal);
            File.Delete(path);
            var missing = generations.Reload();
            Assert.False(missing.Succeeded);
            Assert.Equal(2, generations.Current.Number);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The shipped policy as version 2: same streams, its id and version changed only.</summary>
    private static byte[] VersionTwo() =>
        Encoding.UTF8.GetBytes(File.ReadAllText(TestPolicies.DefaultPolicyPath).Replace("\"version\": \"1\"", "\"version\": \"2\"", StringComparison.Ordinal));
}
