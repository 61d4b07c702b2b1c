using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TelemetryGateway.EndToEnd.Tests.Support;

namespace TelemetryGateway.EndToEnd.Tests.Rights;

/// <summary>The rights API on the admin listener of a running gateway (loopback, no key): record, report, refuse, erase.</summary>
public sealed class RightsApiTests
{
    private const string Serial = "SNRIGHTSAPI00001";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);
    private static readonly string[] s_afterSales = ["after-sales-service"];

    [Fact]
    public async Task A_consent_put_over_the_admin_api_takes_effect_and_the_device_report_shows_it()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var admin = gateway.AdminClient();
        await using var cloud = await Client.ConnectAsync(gateway.Port, "cloud-local");
        await cloud.SubscribeAsync("filtered/+/dt/anker_power/R01/#");
        await using var device = await Client.ConnectAsync(gateway.Port, "dev-r01");

        using var granted = await admin.PutAsJsonAsync($"/v1/devices/{Serial}/consents/personalization", new { noticeVersion = "2025-09-26" });
        using var objected = await admin.PutAsJsonAsync($"/v1/devices/{Serial}/objections/product-improvement", new { noticeVersion = "2025-09-26" });
        await ConsentSite.PublishSettingsThenMarkerAsync(device, "R01", Serial);

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, objected.StatusCode);
        var received = await cloud.WaitForAsync(1 + 2, s_wait);
        Assert.Equal(["after-sales-service", "personalization", "safety-recall"], received.Select(r => r.Properties["purpose"]).Order());
        using var consent = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"/v1/devices/{Serial}/consents/personalization", UriKind.Relative)));
        Assert.True(consent.RootElement.GetProperty("granted").GetBoolean());
        using var report = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"/v1/devices/{Serial}", UriKind.Relative)));
        var record = report.RootElement.GetProperty("record");
        Assert.Equal(["grant", "object"], record.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("action").GetString()));
        Assert.All(record.GetProperty("history").EnumerateArray(), h => Assert.Equal("admin-api:loopback", h.GetProperty("actor").GetString()));
        var forwarding = report.RootElement.GetProperty("forwarding").EnumerateArray()
            .Where(f => f.GetProperty("stream").GetString() is "firmware" or "settings")
            .ToDictionary(f => $"{f.GetProperty("stream").GetString()}/{f.GetProperty("purpose").GetString()}", f => f.GetProperty("refusal").GetString());
        Assert.Null(forwarding["settings/personalization"]);
        Assert.Equal("objected", forwarding["firmware/product-improvement"]);
        Assert.Null(forwarding["firmware/after-sales-service"]);
    }

    [Fact]
    public async Task Errors_are_problem_details_without_the_serial_and_an_erasure_leaves_only_the_audit_entry()
    {
        using var temp = new TempDirectory();
        await using var gateway = await GatewayProcess.StartAsync(temp.DataDirectory, $"--Gateway:Pseudonymization:KeyFile={temp.KeyFile}");
        await Loopback.WaitForListenerAsync(gateway.AdminPort, TimeSpan.FromSeconds(30), () => gateway.Output);
        using var admin = gateway.AdminClient();

        using var unknown = await admin.PutAsJsonAsync($"/v1/devices/{Serial}/consents/advertising", new { noticeVersion = "v1" });
        using var noBasis = await admin.PutAsJsonAsync($"/v1/devices/{Serial}/consents/legal-compliance", new { });
        using var restricted = await admin.PutAsJsonAsync($"/v1/devices/{Serial}/restriction", new { purposes = s_afterSales, noticeVersion = "v1" });
        using var erased = await admin.PostAsync(new Uri($"/v1/devices/{Serial}/erase", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadRequest, noBasis.StatusCode);
        var problem = await noBasis.Content.ReadAsStringAsync();
        Assert.Contains("noticeVersion: required", problem, StringComparison.Ordinal);
        Assert.Contains("'legal-compliance' is not processed on consent", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(Serial, problem, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, restricted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        using var erasure = JsonDocument.Parse(await erased.Content.ReadAsStringAsync());
        Assert.Equal(1, erasure.RootElement.GetProperty("removedRecords").GetInt32());
        Assert.StartsWith("k", erasure.RootElement.GetProperty("pseudonym").GetString(), StringComparison.Ordinal);
        using var report = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"/v1/devices/{Serial}", UriKind.Relative)));
        Assert.Equal(0, report.RootElement.GetProperty("record").GetProperty("history").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, report.RootElement.GetProperty("record").GetProperty("restrictedTo").ValueKind);
        Assert.DoesNotContain(Serial, gateway.Output, StringComparison.Ordinal);
    }
}
