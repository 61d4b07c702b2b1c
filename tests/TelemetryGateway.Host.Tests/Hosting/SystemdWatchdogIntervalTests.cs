using TelemetryGateway.Host.Hosting;

namespace TelemetryGateway.Host.Tests.Hosting;

public sealed class SystemdWatchdogIntervalTests
{
    private static TimeSpan? Interval(params (string Name, string Value)[] environment) =>
        SystemdWatchdog.Interval(name => environment.FirstOrDefault(e => e.Name == name).Value);

    [Fact]
    public void Half_of_WATCHDOG_USEC_when_a_notify_socket_is_given()
    {
        Assert.Equal(TimeSpan.FromSeconds(15), Interval(("NOTIFY_SOCKET", "/run/systemd/notify"), ("WATCHDOG_USEC", "30000000")));
    }

    [Fact]
    public void Off_without_a_notify_socket_or_interval()
    {
        Assert.Null(Interval(("WATCHDOG_USEC", "30000000")));
        Assert.Null(Interval(("NOTIFY_SOCKET", "/run/systemd/notify")));
        Assert.Null(Interval(("NOTIFY_SOCKET", "/run/systemd/notify"), ("WATCHDOG_USEC", "0")));
        Assert.Null(Interval(("NOTIFY_SOCKET", "/run/systemd/notify"), ("WATCHDOG_USEC", "soon")));
    }

    [Fact]
    public void Off_when_the_watchdog_is_meant_for_another_process()
    {
        Assert.Null(Interval(("NOTIFY_SOCKET", "/run/systemd/notify"), ("WATCHDOG_USEC", "30000000"), ("WATCHDOG_PID", "1")));
        Assert.NotNull(Interval(("NOTIFY_SOCKET", "/run/systemd/notify"), ("WATCHDOG_USEC", "30000000"), ("WATCHDOG_PID", $"{Environment.ProcessId}")));
    }
}
