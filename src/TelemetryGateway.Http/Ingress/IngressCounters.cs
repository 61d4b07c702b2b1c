using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// Requests forwarded and rejected, per route and (for rejections) status and reason: counts, never values.
/// Published as <c>System.Diagnostics.Metrics</c> instruments of the meter <c>TelemetryGateway.Http</c>, and kept
/// here for the stop log and tests.
/// </summary>
internal sealed class IngressCounters : IDisposable
{
    public const string MeterName = "TelemetryGateway.Http";

    /// <summary>The route label of requests that matched no route (or were rejected before routing).</summary>
    public const string NoRoute = "(none)";

    private readonly Meter _meter;
    private readonly Counter<long> _forwarded;
    private readonly Counter<long> _rejected;
    private readonly ConcurrentDictionary<(string Route, int Status, string Reason), long> _rejections = new();
    private readonly ConcurrentDictionary<string, long> _forwards = new(StringComparer.Ordinal);

    public IngressCounters(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _forwarded = _meter.CreateCounter<long>("telemetry_gateway.http.forwarded", description: "Requests whose minimized body was forwarded");
        _rejected = _meter.CreateCounter<long>("telemetry_gateway.http.rejected", description: "Requests rejected, by route, status and reason");
    }

    public void Forwarded(string route)
    {
        _forwards.AddOrUpdate(route, 1, static (_, n) => n + 1);
        _forwarded.Add(1, new KeyValuePair<string, object?>("route", route));
    }

    public void Rejected(string route, int status, string reason)
    {
        _rejections.AddOrUpdate((route, status, reason), 1, static (_, n) => n + 1);
        _rejected.Add(1, new("route", route), new("status", status), new("reason", reason));
    }

    public long RejectedCount(string route, int status, string reason) => _rejections.GetValueOrDefault((route, status, reason));

    public long ForwardedCount(string route) => _forwards.GetValueOrDefault(route);

    public IReadOnlyList<KeyValuePair<(string Route, int Status, string Reason), long>> Rejections => [.. _rejections.OrderBy(r => r.Key)];

    public IReadOnlyList<KeyValuePair<string, long>> Forwards => [.. _forwards.OrderBy(f => f.Key, StringComparer.Ordinal)];

    public void Dispose() => _meter.Dispose();
}
