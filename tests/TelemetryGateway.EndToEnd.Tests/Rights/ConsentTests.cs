using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using TelemetryGateway.EndToEnd.Tests.Support;
using static TelemetryGateway.EndToEnd.Tests.Rights.ConsentSite;

namespace TelemetryGateway.EndToEnd.Tests.Rights;

/// <summary>
/// Consent, objection and restriction from the commissioning app over MQTT, with real clients, the gateway process and a
/// real mosquitto as the cloud: each choice takes effect for the device's next message, and only the installer role may
/// make it, for its own topic.
/// </summary>
public sealed class ConsentTests(ConsentSite site) : IClassFixture<ConsentSite>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_grant_over_mqtt_forwards_the_next_settings_message_for_personalization()
    {
        const string Serial = "SNCONSENT0000001";
        await using var cloud = await site.CloudAsync("T01");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t01");
        await PublishSettingsThenMarkerAsync(device, "T01", Serial);
        Assert.DoesNotContain(await cloud.WaitForAsync(3, s_wait), r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));

        var ack = await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "personalization"));
        await PublishSettingsThenMarkerAsync(device, "T01", Serial);

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        var result = Assert.Single(await app.WaitForAsync(1, s_wait));
        Assert.Equal($"app/installer-1/consent/{Serial}/result", result.Topic);
        using (var json = JsonDocument.Parse(result.Payload))
        {
            Assert.Equal("recorded", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("grant", json.RootElement.GetProperty("action").GetString());
        }
        var received = await cloud.WaitForAsync(3 + 4, s_wait);
        var personalization = Assert.Single(received, r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));
        var text = Encoding.UTF8.GetString(personalization.Payload);
        Assert.Contains("\"language\":\"de\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("OWNERCANARY", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Serial, text + personalization.Topic, StringComparison.Ordinal);
        Assert.Equal("consent", personalization.Properties["legal-basis"]);
        Assert.DoesNotContain(Serial, site.Gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_withdrawal_the_next_settings_message_is_not_forwarded()
    {
        const string Serial = "SNCONSENT0000002";
        await using var cloud = await site.CloudAsync("T02");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t02");
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "personalization"));
        await PublishSettingsThenMarkerAsync(device, "T02", Serial);
        Assert.Single(await cloud.WaitForAsync(4, s_wait), r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));

        var ack = await ConsentAsync(app, "installer-1", Serial, ConsentBody("withdraw", "personalization"));
        await PublishSettingsThenMarkerAsync(device, "T02", Serial);

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        var received = await cloud.WaitForAsync(4 + 3, s_wait);
        Assert.Equal(7, received.Count);
        Assert.Single(received, r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_objection_to_product_improvement_stops_it_for_that_device_only()
    {
        const string Objecting = "SNCONSENT0000003";
        const string Other = "SNCONSENT0000004";
        await using var cloud = await site.CloudAsync("T03");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t03");

        var ack = await ConsentAsync(app, "installer-1", Objecting, ConsentBody("object", "product-improvement"));
        await device.PublishAsync($"dt/anker_power/T03/{Objecting}/firmware", $$"""{"sn":"{{Objecting}}","sw_version":"v2"}""");
        await device.PublishAsync($"dt/anker_power/T03/{Other}/firmware", $$"""{"sn":"{{Other}}","sw_version":"v2"}""");

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        var received = await cloud.WaitForAsync(2 + 3, s_wait);
        Assert.Equal(5, received.Count);
        // The objecting device's serial is in clear in after-sales and safety-recall topics; product improvement has only pseudonyms.
        Assert.Equal(
            ["after-sales-service", "safety-recall"],
            received.Where(r => r.Topic.Contains(Objecting, StringComparison.Ordinal)).Select(r => r.Properties["purpose"]).Order());
        Assert.Single(received, r => r.Properties["purpose"] == "product-improvement");
        Assert.Equal(2, received.Count(r => r.Topic.Contains(Other, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_restriction_lets_only_the_listed_purposes_through()
    {
        const string Serial = "SNCONSENT0000005";
        await using var cloud = await site.CloudAsync("T04");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t04");

        await ConsentAsync(app, "installer-1", Serial, ConsentBody("restrict", "safety-recall"));
        await device.PublishAsync($"dt/anker_power/T04/{Serial}/firmware", $$"""{"sn":"{{Serial}}","sw_version":"v2"}""");
        await ConsentAsync(app, "installer-1", Serial, """{"action":"lift-restriction","noticeVersion":"2025-09-26"}""");
        await device.PublishAsync($"dt/anker_power/T04/{Serial}/firmware", $$"""{"sn":"{{Serial}}","sw_version":"v3"}""");

        var received = await cloud.WaitForAsync(1 + 3, s_wait);
        Assert.Equal(4, received.Count);
        Assert.Equal("safety-recall", received[0].Properties["purpose"]);
        Assert.Equal(["after-sales-service", "product-improvement", "safety-recall"], received.Skip(1).Select(r => r.Properties["purpose"]).Order());
    }

    [Fact]
    public async Task A_consent_from_another_installer_a_device_or_an_anonymous_client_is_denied_and_changes_nothing()
    {
        const string Serial = "SNCONSENT0000006";
        await using var cloud = await site.CloudAsync("T05");
        await using var owner = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var other = await InstallerAsync(site.Gateway.Port, "installer-2", OtherInstallerPassword);
        await using var deviceUser = await Client.ConnectAsync(site.Gateway.Port, $"{DeviceUserSerial}-t05", configure: o => o.WithCredentials("device-1", DevicePassword));
        await using var anonymous = await Client.ConnectAsync(site.Gateway.Port, "anon-t05");
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t05");
        var grant = ConsentBody("grant", "personalization");

        var forged = await ConsentAsync(other, "installer-1", Serial, grant);
        var fromDevice = await ConsentAsync(deviceUser, "installer-1", Serial, grant);
        var fromAnonymous = await ConsentAsync(anonymous, "installer-1", Serial, grant);
        await PublishSettingsThenMarkerAsync(device, "T05", Serial);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, fromDevice.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, fromAnonymous.ReasonCode);
        Assert.DoesNotContain(await cloud.WaitForAsync(3, s_wait), r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));
        // No result was published for them, on the owner's topics or anywhere the forger reads.
        Assert.Empty(owner.Messages);
        Assert.Empty(other.Messages);
    }

    [Fact]
    public async Task A_malformed_consent_message_gets_a_clear_reason_and_changes_nothing()
    {
        const string Serial = "SNCONSENT0000007";
        await using var cloud = await site.CloudAsync("T06");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var app311 = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword, MqttProtocolVersion.V311);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t06");

        var unknownAction = await ConsentAsync(app, "installer-1", Serial, """{"action":"agree","purposes":["personalization"],"noticeVersion":"v1"}""");
        var notJson = await ConsentAsync(app, "installer-1", Serial, "grant personalization");
        var noConsentBasis = await ConsentAsync(app, "installer-1", Serial, """{"action":"grant","purposes":["legal-compliance"]}""");
        await ConsentAsync(app311, "installer-1", Serial, """{"action":"grant","purposes":["nonsense"],"noticeVersion":"v1"}""");
        await PublishSettingsThenMarkerAsync(device, "T06", Serial);

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, unknownAction.ReasonCode);
        Assert.Contains("action: one of grant, withdraw, object", unknownAction.ReasonString, StringComparison.Ordinal);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, notJson.ReasonCode);
        Assert.Contains("not well-formed JSON", notJson.ReasonString, StringComparison.Ordinal);
        Assert.Contains("noticeVersion: required", noConsentBasis.ReasonString, StringComparison.Ordinal);
        Assert.Contains("'legal-compliance' is not processed on consent", noConsentBasis.ReasonString, StringComparison.Ordinal);
        // MQTT 3.1.1 cannot carry a reason code: its app reads the result message, and keeps its connection.
        var results = await app311.WaitForAsync(4, s_wait);
        Assert.All(results, r => Assert.Equal("rejected", JsonDocument.Parse(r.Payload).RootElement.GetProperty("status").GetString()));
        Assert.Contains(results, r => Encoding.UTF8.GetString(r.Payload).Contains("purposes: each must be a purpose id", StringComparison.Ordinal));
        Assert.True(app311.IsConnected);
        Assert.DoesNotContain(await cloud.WaitForAsync(3, s_wait), r => r.Topic.StartsWith("telemetry/personalization/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_mqtt5_response_topic_is_honoured_within_the_installer_s_own_topics_only()
    {
        const string Serial = "SNCONSENT0000008";
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        var body = Encoding.UTF8.GetBytes(ConsentBody("grant", "personalization"));
        MqttApplicationMessage Request(string responseTopic, byte correlation) => new MqttApplicationMessageBuilder()
            .WithTopic($"app/installer-1/consent/{Serial}").WithPayload(body).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithResponseTopic(responseTopic).WithCorrelationData([correlation]).Build();

        await app.PublishAsync(Request("app/installer-1/replies/r1", 1));
        await app.PublishAsync(Request($"cmd/anker_power/T07/{Serial}/req", 2));

        var results = await app.WaitForAsync(2, s_wait);
        Assert.Equal(["app/installer-1/replies/r1", $"app/installer-1/consent/{Serial}/result"], results.Select(r => r.Topic));
    }

    [Fact]
    public async Task After_an_objection_to_marketing_only_a_new_grant_re_enables_the_marketing_output()
    {
        const string Serial = "SNCONSENT0000009";
        await using var cloud = await site.CloudAsync("T08");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        await using var device = await Client.ConnectAsync(site.Gateway.Port, "dev-t08");
        var status = $$"""{"sn":"{{Serial}}","pn":"T08","battery_soc":50,"solar_power_w":300,"output_power_w":100}""";

        await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "marketing"));
        await device.PublishAsync($"dt/anker_power/T08/{Serial}/status", status);
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("object", "marketing"));
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("lift-objection", "marketing"));
        await device.PublishAsync($"dt/anker_power/T08/{Serial}/status", status);
        await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "marketing"));
        await device.PublishAsync($"dt/anker_power/T08/{Serial}/status", status);

        var received = await cloud.WaitForAsync(3 + 2 + 3, s_wait);
        Assert.Equal(8, received.Count);
        var marketing = received.Where(r => r.Properties["purpose"] == "marketing").ToList();
        Assert.Equal(2, marketing.Count);
        Assert.All(marketing, m => Assert.Equal("telemetry/marketing/dt/anker_power/T08/status", m.Topic));
        // The minimized payload inside the envelope: aggregate figures only, no serial.
        Assert.All(marketing, m => Assert.Contains("""{"pn":"T08","solar_power_w":300}""", Encoding.UTF8.GetString(m.Payload), StringComparison.Ordinal));
        Assert.All(marketing, m => Assert.DoesNotContain(Serial, Encoding.UTF8.GetString(m.Payload), StringComparison.Ordinal));
        // The first status had marketing, the second (objection lifted, no new grant) had not, the third had.
        Assert.Equal("marketing", received.Take(3).Single(r => r.Properties["purpose"] == "marketing").Properties["purpose"]);
        Assert.DoesNotContain(received.Skip(3).Take(2), r => r.Properties["purpose"] == "marketing");
    }

    [Fact]
    public async Task A_commissioning_record_s_owner_contact_reaches_after_sales_only_while_consent_for_it_is_granted()
    {
        const string Serial = "SNCONSENT0000010";
        const string OwnerEmail = "owner-canary-10@example.net";
        var record = $$$"""
            {"device":{"sn":"{{{Serial}}}","pn":"T10"},
             "installer":{"name":"INSTALLERCANARY","email":"installer-canary@example.net","phone":"+49 30 5550 0001","company":"Solar Example GmbH"},
             "owner":{"name":"OWNERCANARY","email":"{{{OwnerEmail}}}","phone":"+49 30 5550 0010","address":{"street":"10 Canary Street","city":"Berlin","postal":"10117","country":"DE"}},
             "wifi":{"ssid":"Canary-WLAN","password":"canary-pass-10"},
             "install":{"latitude":52.51966,"longitude":13.405024,"position":"garage wall"}}
            """;
        await using var cloud = await Client.ConnectAsync(site.CloudPort, $"cloud-{Guid.NewGuid():N}");
        await cloud.SubscribeAsync($"telemetry/after-sales-service/app/+/+/{Serial}");
        await using var app = await InstallerAsync(site.Gateway.Port, "installer-1", InstallerPassword);
        var commissioning = $"app/installer-1/commissioning/{Serial}";

        await app.PublishAsync(commissioning, record);
        await cloud.WaitForAsync(1, s_wait);
        var grant = await ConsentAsync(app, "installer-1", Serial, ConsentBody("grant", "after-sales-service"));
        await app.PublishAsync(commissioning, record);
        await cloud.WaitForAsync(3, s_wait);
        var withdraw = await ConsentAsync(app, "installer-1", Serial, ConsentBody("withdraw", "after-sales-service"));
        await app.PublishAsync(commissioning, record);
        await app.PublishAsync(commissioning, record);

        Assert.Equal(MqttClientPublishReasonCode.Success, grant.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, withdraw.ReasonCode);
        var received = await cloud.WaitForAsync(1 + 2 + 2, s_wait);
        Assert.Equal(5, received.Count);
        // Each record's contract output first; the owner-contact output only for the record published while consent was on record.
        Assert.Equal(
            ["commissioning", "commissioning", "owner-contact", "commissioning", "commissioning"],
            received.Select(r => r.Topic.Split('/')[^2]));
        Assert.All(received, r => Assert.Equal("after-sales-service", r.Properties["purpose"]));
        var contact = received[2];
        Assert.Equal("consent", contact.Properties["legal-basis"]);
        var contactText = Encoding.UTF8.GetString(contact.Payload);
        foreach (var kept in new[] { "OWNERCANARY", OwnerEmail, "+49 30 5550 0010", "10 Canary Street" })
        {
            Assert.Contains(kept, contactText, StringComparison.Ordinal);
        }
        foreach (var output in received.Where(r => r != contact))
        {
            Assert.Equal("contract", output.Properties["legal-basis"]);
            Assert.DoesNotContain("OWNERCANARY", Encoding.UTF8.GetString(output.Payload), StringComparison.Ordinal);
            Assert.DoesNotContain(OwnerEmail, Encoding.UTF8.GetString(output.Payload), StringComparison.Ordinal);
        }
        foreach (var never in new[] { "INSTALLERCANARY", "installer-canary@example.net", "Canary-WLAN", "canary-pass-10", "garage wall", "52.51966" })
        {
            Assert.DoesNotContain(received, r => Encoding.UTF8.GetString(r.Payload).Contains(never, StringComparison.Ordinal));
        }
        Assert.DoesNotContain(OwnerEmail, site.Gateway.Output, StringComparison.Ordinal);
    }
}
