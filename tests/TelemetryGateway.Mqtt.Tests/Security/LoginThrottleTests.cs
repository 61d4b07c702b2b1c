using System.Net;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Limits;

namespace TelemetryGateway.Mqtt.Tests.Security;

/// <summary>The login throttle's decisions, on a manual clock (no password check runs here: a slot stands for one).</summary>
public sealed class LoginThrottleTests
{
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;

        public override long GetTimestamp() => _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    private static readonly IPAddress s_attacker = IPAddress.Parse("192.0.2.66");
    private static readonly IPAddress s_device = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress s_other = IPAddress.Parse("192.0.2.11");

    private static readonly ConnectionLimitOptions s_limits = new()
    {
        MaxPendingLogins = 4,
        MaxPendingLoginsPerAddress = 2,
        LoginFailuresBeforeBackoff = 3,
        LoginBackoff = TimeSpan.FromSeconds(1),
        MaxLoginBackoff = TimeSpan.FromSeconds(8),
    };

    [Fact]
    public async Task Address_with_too_many_failures_is_refused_without_a_check_until_its_backoff_passed()
    {
        var time = new ManualTime();
        var throttle = new LoginThrottle(s_limits, time);
        for (var i = 0; i < 3; i++)
        {
            var (admission, slot) = await throttle.EnterAsync(s_attacker, $"nobody-{i}", CancellationToken.None);
            Assert.Equal(LoginAdmission.Admitted, admission);
            slot!.Dispose();
            throttle.RecordFailure(s_attacker, $"nobody-{i}");
        }

        Assert.Equal(LoginAdmission.Throttled, (await throttle.EnterAsync(s_attacker, "nobody-3", CancellationToken.None)).Admission);
        time.Advance(TimeSpan.FromSeconds(1.1));
        var (after, afterSlot) = await throttle.EnterAsync(s_attacker, "nobody-4", CancellationToken.None);
        Assert.Equal(LoginAdmission.Admitted, after);
        afterSlot!.Dispose();
        throttle.RecordFailure(s_attacker, "nobody-4");

        // One more failure: the wait doubles.
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(LoginAdmission.Throttled, (await throttle.EnterAsync(s_attacker, "nobody-5", CancellationToken.None)).Admission);
        // Another address is not affected.
        var (device, deviceSlot) = await throttle.EnterAsync(s_device, "device-1", CancellationToken.None);
        Assert.Equal(LoginAdmission.Admitted, device);
        deviceSlot!.Dispose();
    }

    [Fact]
    public async Task User_name_with_too_many_failures_is_refused_from_any_address_until_a_success()
    {
        var throttle = new LoginThrottle(s_limits, new ManualTime());
        foreach (var address in new[] { s_attacker, s_other, s_attacker })
        {
            var (_, slot) = await throttle.EnterAsync(address, "device-1", CancellationToken.None);
            slot!.Dispose();
            throttle.RecordFailure(address, "device-1");
        }

        Assert.Equal(LoginAdmission.Throttled, (await throttle.EnterAsync(s_device, "device-1", CancellationToken.None)).Admission);
        throttle.RecordSuccess("device-1");
        Assert.Equal(LoginAdmission.Admitted, (await throttle.EnterAsync(s_device, "device-1", CancellationToken.None)).Admission);
    }

    [Fact]
    public async Task One_address_holds_at_most_its_share_of_pending_checks()
    {
        var throttle = new LoginThrottle(s_limits, new ManualTime());
        var first = await throttle.EnterAsync(s_attacker, "a", CancellationToken.None);
        var second = await throttle.EnterAsync(s_attacker, "b", CancellationToken.None);

        var third = await throttle.EnterAsync(s_attacker, "c", CancellationToken.None);

        Assert.Equal(LoginAdmission.Admitted, first.Admission);
        Assert.Equal(LoginAdmission.Admitted, second.Admission);
        Assert.Equal(LoginAdmission.Busy, third.Admission);
        first.Slot!.Dispose();
        second.Slot!.Dispose();
    }

    [Fact]
    public async Task Clients_with_failures_hold_at_most_one_of_the_two_checks()
    {
        var throttle = new LoginThrottle(s_limits, new ManualTime());
        throttle.RecordFailure(s_attacker, "nobody");
        throttle.RecordFailure(s_other, "nobody-else");
        var suspectRunning = await throttle.EnterAsync(s_attacker, "nobody", CancellationToken.None);
        var suspectWaiting = throttle.EnterAsync(s_other, "nobody-else", CancellationToken.None);

        // The second check is kept for a client without failures: it does not wait for the failing client's check.
        var clean = await throttle.EnterAsync(s_device, "device-1", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(LoginAdmission.Admitted, suspectRunning.Admission);
        Assert.Equal(LoginAdmission.Admitted, clean.Admission);
        Assert.False(suspectWaiting.IsCompleted);
        suspectRunning.Slot!.Dispose();
        var (admission, slot) = await suspectWaiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(LoginAdmission.Admitted, admission);
        slot!.Dispose();
        clean.Slot!.Dispose();
    }

    [Fact]
    public async Task Waiting_client_without_failures_gets_the_next_check_before_clients_with_failures()
    {
        var throttle = new LoginThrottle(s_limits, new ManualTime());
        throttle.RecordFailure(s_attacker, "nobody");
        throttle.RecordFailure(s_other, "nobody-else");
        var first = await throttle.EnterAsync(s_device, "device-1", CancellationToken.None);
        var second = await throttle.EnterAsync(IPAddress.Parse("192.0.2.12"), "device-2", CancellationToken.None);
        var suspectWaiting = throttle.EnterAsync(s_attacker, "nobody", CancellationToken.None);
        var cleanWaiting = throttle.EnterAsync(IPAddress.Parse("192.0.2.13"), "device-3", CancellationToken.None);

        first.Slot!.Dispose();

        var (admission, slot) = await cleanWaiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(LoginAdmission.Admitted, admission);
        Assert.False(suspectWaiting.IsCompleted);
        second.Slot!.Dispose();
        Assert.Equal(LoginAdmission.Admitted, (await suspectWaiting.WaitAsync(TimeSpan.FromSeconds(5))).Admission);
        slot!.Dispose();
    }

    [Fact]
    public async Task Wait_for_a_check_ends_busy_at_the_connect_timeout()
    {
        var throttle = new LoginThrottle(s_limits, new ManualTime());
        var first = await throttle.EnterAsync(s_device, "a", CancellationToken.None);
        var second = await throttle.EnterAsync(s_other, "b", CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var (admission, slot) = await throttle.EnterAsync(s_attacker, "c", timeout.Token);

        Assert.Equal(LoginAdmission.Busy, admission);
        Assert.Null(slot);
        first.Slot!.Dispose();
        second.Slot!.Dispose();
        // The slot the timed-out waiter never took is free again.
        Assert.Equal(LoginAdmission.Admitted, (await throttle.EnterAsync(s_attacker, "d", CancellationToken.None)).Admission);
    }
}
