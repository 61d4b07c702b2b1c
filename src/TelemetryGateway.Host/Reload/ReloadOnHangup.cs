using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace TelemetryGateway.Host.Reload;

/// <summary>SIGHUP reloads the policy (systemd's <c>ExecReload=kill -HUP $MAINPID</c>) instead of ending the process.</summary>
internal sealed class ReloadOnHangup(PolicyReloader reloader) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
        {
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                // Off the signal thread: a reload compiles the policy.
                _ = Task.Run(() => reloader.Reload("sighup"));
            });
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _registration = null;
    }
}
