using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Logs the ingress's routes at start, and its forwarded and rejected counts (never values) at stop. Taking the
/// ingress's generations binds them to the policy generations at start, before any reload.
/// </summary>
internal sealed partial class IngressReporter(
    HttpIngressOptions options, HttpIngressGenerations generations, IngressCounters counters, ILogger<IngressReporter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var routes = generations.Current.Routes;
        LogListening(logger, options.BindAddress, options.Port, routes.Count, options.Authentication);
        foreach (var route in routes.Routes)
        {
            LogRoute(logger, route.RouteId, route.Stream.Name, route.PurposeId, route.FormatId, route.MaxBodyBytes);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var (route, count) in counters.Forwards)
        {
            LogForwarded(logger, route, count);
        }
        foreach (var ((route, status, reason), count) in counters.Rejections)
        {
            LogRejected(logger, route, status, reason, count);
        }
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = EventIds.HttpListening, Level = LogLevel.Information, Message = "HTTP ingress on {Address}:{Port}: {RouteCount} routes, authentication {Authentication}")]
    private static partial void LogListening(ILogger logger, string address, int port, int routeCount, string authentication);

    [LoggerMessage(EventId = EventIds.HttpRoute, Level = LogLevel.Information, Message = "HTTP ingress route {Route}: stream {Stream}, purpose {Purpose}, {Format} bodies up to {MaxBodyBytes} bytes")]
    private static partial void LogRoute(ILogger logger, string route, string stream, string purpose, string format, long maxBodyBytes);

    [LoggerMessage(EventId = EventIds.HttpForwarded, Level = LogLevel.Information, Message = "HTTP ingress route {Route}: {Count} requests forwarded")]
    private static partial void LogForwarded(ILogger logger, string route, long count);

    [LoggerMessage(EventId = EventIds.HttpRejected, Level = LogLevel.Information, Message = "HTTP ingress route {Route}: {Count} requests rejected with {Status} ({Reason})")]
    private static partial void LogRejected(ILogger logger, string route, int status, string reason, long count);
}
