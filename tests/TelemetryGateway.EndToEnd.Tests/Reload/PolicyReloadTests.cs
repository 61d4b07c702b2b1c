using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Reload;

/// <summary>
/// The policy changed under a running gateway: by an editor's rename-and-replace of the file (polling watch), by a
/// Kubernetes-style symlink swap with SIGHUP, and through the admin API. The next message follows the new policy; a
/// broken policy changes nothing and is counted as a failed reload.
/// </summary>
public sealed class PolicyReloadTests
{
    private const string Topic = "dt/anker_power/A17C0/RLDTESTSERIAL01/firmware";
    private const string Payload = """{"sn":"RLDTESTSERIAL01","hw_version":"HW-7","sw_version":"SW-9"}""";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_rename_and_replace_edit_applies_to_the_next_message_and_a_broken_edit_changes_nothing()
    {
        using var temp = new TempDirectory();
        var policy = temp.Combine("policy.json");
        File.Copy(GatewayProcess.Policy, policy);
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Policy:Path={policy}", "--Gateway:Policy:WatchInterval=00:00:00.200");
        await using var local = await Client.ConnectAsync(gateway.Port, "local-reader");
        await local.SubscribeAsync("filtered/#");
        await using var device = await Client.ConnectAsync(gateway.Port, "reload-device");
        using var admin = gateway.AdminClient();

        Assert.Contains("HW-7", await PublishAndReadAsync(device, local, 3));

        ReplaceByRename(policy, WithoutHardwareVersion(await File.ReadAllTextAsync(GatewayProcess.Policy)));
        Assert.True(await GenerationBecomesAsync(admin, 2), gateway.Output);
        var afterEdit = await PublishAndReadAsync(device, local, 6);
        Assert.DoesNotContain("HW-7", afterEdit);
        Assert.Contains("SW-9", afterEdit);

        ReplaceByRename(policy, "{ \"id\": \"broken\", \"streams\": ");
        Assert.True(await Loopback.EventuallyAsync(() => gateway.Output.Contains("Policy reload (file-change)", StringComparison.Ordinal), s_wait), gateway.Output);
        var afterBrokenEdit = await PublishAndReadAsync(device, local, 9);
        Assert.DoesNotContain("HW-7", afterBrokenEdit);
        Assert.Contains("SW-9", afterBrokenEdit);
        Assert.Equal(2, await GenerationAsync(admin));
        var metrics = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("telemetry_gateway_policy_reloads_total{otel_scope_name=\"TelemetryGateway\",result=\"failure\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("telemetry_gateway_policy_generation{otel_scope_name=\"TelemetryGateway\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains(policy, gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symlink_swap_is_reloaded_on_sighup_and_a_broken_policy_is_refused_by_the_admin_api()
    {
        using var temp = new TempDirectory();
        var first = Directory.CreateDirectory(temp.Combine("v1")).FullName;
        var second = Directory.CreateDirectory(temp.Combine("v2")).FullName;
        var third = Directory.CreateDirectory(temp.Combine("v3")).FullName;
        File.Copy(GatewayProcess.Policy, Path.Combine(first, "policy.json"));
        await File.WriteAllTextAsync(Path.Combine(second, "policy.json"), WithoutHardwareVersion(await File.ReadAllTextAsync(GatewayProcess.Policy)));
        await File.WriteAllTextAsync(Path.Combine(third, "policy.json"), "{ \"id\": 7 }");
        // As a ConfigMap mounts it: policy.json -> ..data/policy.json, ..data -> v1; a swap renames a new ..data over it.
        var data = temp.Combine("..data");
        File.CreateSymbolicLink(data, first);
        var policy = temp.Combine("policy.json");
        File.CreateSymbolicLink(policy, Path.Combine(data, "policy.json"));
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Policy:Path={policy}", "--Gateway:Policy:WatchInterval=00:00:00");
        await using var local = await Client.ConnectAsync(gateway.Port, "local-reader");
        await local.SubscribeAsync("filtered/#");
        await using var device = await Client.ConnectAsync(gateway.Port, "reload-device");
        using var admin = gateway.AdminClient();
        Assert.Contains("HW-7", await PublishAndReadAsync(device, local, 3));

        SwapSymlink(temp, data, second);
        await SignalAsync(gateway.ProcessId, "HUP");
        Assert.True(await GenerationBecomesAsync(admin, 2), gateway.Output);
        Assert.DoesNotContain("HW-7", await PublishAndReadAsync(device, local, 6));

        SwapSymlink(temp, data, third);
        using var refused = await admin.PostAsync(new Uri("/admin/reload", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.NotEqual(0, body.RootElement.GetProperty("errors").GetArrayLength());
        Assert.Equal(2, body.RootElement.GetProperty("running").GetProperty("generation").GetInt64());
        var afterRefusal = await PublishAndReadAsync(device, local, 9);
        Assert.DoesNotContain("HW-7", afterRefusal);
        Assert.Contains("SW-9", afterRefusal);

        SwapSymlink(temp, data, first);
        using var accepted = await admin.PostAsync(new Uri("/admin/reload", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(3, await GenerationAsync(admin));
        Assert.Contains("HW-7", await PublishAndReadAsync(device, local, 12));
    }

    // The shipped policy without the firmware stream's hardware version: dropped for every purpose once loaded.
    private static string WithoutHardwareVersion(string policy)
    {
        var edited = policy.Replace("\"hw_version\": \"keep\",", "", StringComparison.Ordinal);
        Assert.NotEqual(policy, edited);
        return edited;
    }

    private static void ReplaceByRename(string path, string content)
    {
        var next = path + ".tmp";
        File.WriteAllText(next, content);
        File.Move(next, path, overwrite: true);
    }

    private static void SwapSymlink(TempDirectory temp, string data, string target)
    {
        var next = temp.Combine("..data_tmp");
        File.CreateSymbolicLink(next, target);
        // rename(2) of the new link over the old one: atomic, as kubelet does (File.Move would follow the link to its directory).
        using var rename = System.Diagnostics.Process.Start("mv", ["-T", "-f", next, data])!;
        rename.WaitForExit(10_000);
        Assert.Equal(0, rename.ExitCode);
    }

    // Publishes the firmware message once and returns the payloads of the outputs received so far, once there are total.
    private static async Task<string> PublishAndReadAsync(Client device, Client local, int total)
    {
        Assert.True((await device.PublishAsync(Topic, Payload)).IsSuccess);
        var received = await local.WaitForAsync(total, s_wait);
        Assert.True(received.Count >= total, $"{received.Count} outputs of {total}");
        return string.Join("\n", received.Skip(total - 3).Select(m => Encoding.UTF8.GetString(m.Payload)));
    }

    private static async Task<long> GenerationAsync(HttpClient admin)
    {
        using var policy = JsonDocument.Parse(await admin.GetStringAsync(new Uri("/admin/policy", UriKind.Relative)));
        return policy.RootElement.GetProperty("generation").GetInt64();
    }

    private static async Task<bool> GenerationBecomesAsync(HttpClient admin, long generation)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (DateTime.UtcNow < deadline)
        {
            if (await GenerationAsync(admin) == generation)
            {
                return true;
            }
            await Task.Delay(100);
        }
        return false;
    }

    private static async Task SignalAsync(int processId, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", processId.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }
}
