namespace TelemetryGateway.EndToEnd.Tests.Security;

/// <summary>
/// The secured site with small limits the probe tests can reach quickly: sessions live at most 3 s once disconnected,
/// an identity holds at most 3 sessions, a session at most 20 subscriptions, a SUBSCRIBE at most 8 filters. Devices
/// 2 to 4 are only ever used by the login test (their first login must be a real password check); devices 5 to 7 each
/// by one session test, so their session counts do not mix.
/// </summary>
public sealed class ProbeGateway : SecuredGateway
{
    public const string LoginPassword = "login-pass-1";

    public static string Serial(int device) => $"SN0000000000{device:D4}";

    protected override IEnumerable<string> ExtraSettings =>
    [
        "--Gateway:Security:Limits:MaxSessionExpiry=00:00:03",
        "--Gateway:Security:Limits:MaxSessionsPerIdentity=3",
        "--Gateway:Security:Limits:MaxSubscriptionsPerClient=20",
        "--Gateway:Security:Limits:MaxFiltersPerSubscribe=8",
    ];

    protected override IEnumerable<(string Name, string Password, string Serial)> ExtraDevices =>
        Enumerable.Range(2, 6).Select(i => ($"device-{i}", LoginPassword, Serial(i)));
}
