using Yarp.ReverseProxy.Forwarder;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// YARP's HTTP client for forwarded requests, without distributed-context propagation. Left alone, the handler writes
/// <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c> from the current activity, which ASP.NET Core took from the
/// incoming request: a client's <c>baggage: wifi.pass=...</c> would reach the cloud though no request header is copied.
/// No propagator means the forwarded request carries no trace context at all.
/// </summary>
internal sealed class UntracedHttpClientFactory : ForwarderHttpClientFactory
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ActivityHeadersPropagator = null;
    }
}
