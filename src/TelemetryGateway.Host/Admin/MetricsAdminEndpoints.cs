using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using OpenTelemetry.Metrics;

namespace TelemetryGateway.Host.Admin;

/// <summary><c>/metrics</c>: the OpenTelemetry Prometheus exporter's scraping endpoint, over the gateway's meter provider.</summary>
internal sealed class MetricsAdminEndpoints(MeterProvider meterProvider) : IAdminEndpoints
{
    public void Map(IEndpointRouteBuilder admin) => admin.MapPrometheusScrapingEndpoint("/metrics", meterProvider, configureBranchedPipeline: null, optionsName: null);
}
