using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using TelemetryGateway.Host.Admin;
using TelemetryGateway.Mqtt.Diagnostics;

namespace TelemetryGateway.Host.Metrics;

/// <summary>
/// Metrics through OpenTelemetry .NET: the gateway's meters, exported in Prometheus text format on the admin
/// listener's <c>/metrics</c>, and over OTLP too when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads
/// the standard <c>OTEL_EXPORTER_OTLP_*</c> variables).
/// </summary>
internal static class MetricsRegistration
{
    public const string HttpMeterName = "TelemetryGateway.Http";

    public static IServiceCollection AddGatewayMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton<ProcessingMetrics>();
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<MqttObservations>(sp));
        services.AddHostedService<InstrumentsStartup>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("telemetry-gateway"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ProcessingMetrics.MeterName, MqttInstruments.MeterName, HttpMeterName);
                metrics.AddPrometheusExporter();
                if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
                {
                    metrics.AddOtlpExporter();
                }
            });
        services.AddAdminEndpoints<MetricsAdminEndpoints>();
        return services;
    }

    /// <summary>Creates the observable instruments at start (they exist only once constructed).</summary>
    private sealed class InstrumentsStartup(ProcessingMetrics processing, MqttObservations mqtt) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(processing);
            GC.KeepAlive(mqtt);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
