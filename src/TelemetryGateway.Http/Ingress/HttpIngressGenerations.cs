using Microsoft.Extensions.Configuration;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Ingress;

/// <summary>What the HTTP ingress binds to one policy generation: its routes and the pipeline's minimizers (which hold the records).</summary>
internal sealed record HttpIngressGeneration(PolicyGeneration Policy, IngressRouteCatalog Routes, BodyMinimizers Minimizers);

/// <summary>
/// The HTTP ingress's part of the policy generation: the route bindings and the minimizer pool are rebuilt from each new policy and swapped with it. A request takes the generation current when it arrives and
/// finishes under it (the route, and so its tags, travel with the request). A reload whose policy no longer has a
/// routed stream or purpose is refused before anything is swapped (a validator of <see cref="PolicyGenerations"/>).
/// </summary>
internal sealed class HttpIngressGenerations
{
    private readonly IConfigurationSection _reverseProxy;
    private readonly PseudonymizationKey _key;
    private readonly IReadOnlyList<IPurposeGate> _gates;
    private readonly LearnedSecrets? _learned;
    private readonly string _siteRegion;
    private HttpIngressGeneration _current;

    /// <summary>Binds to <paramref name="generations"/>; bodies pass <paramref name="gates"/>, as messages do.</summary>
    public HttpIngressGenerations(
        PolicyGenerations generations, IngressRouteCatalog routes, IConfigurationSection reverseProxy, PseudonymizationKey key, IReadOnlyList<IPurposeGate> gates,
        LearnedSecrets? learned = null)
    {
        ArgumentNullException.ThrowIfNull(generations);
        _reverseProxy = reverseProxy;
        _siteRegion = routes.SiteRegion;
        _key = key;
        _gates = gates;
        _learned = learned;
        var policy = generations.Current;
        _current = new HttpIngressGeneration(policy, routes, new BodyMinimizers(policy.Policy, key, gates, learned));
        generations.AddValidator(next => IngressRouteCatalog.Build(_reverseProxy, next, _siteRegion).Errors.Select(e => "HTTP ingress: " + e));
        generations.Swapped += Bind;
    }

    /// <summary>The generation a request arriving now takes.</summary>
    public HttpIngressGeneration Current => Volatile.Read(ref _current);

    private void Bind(PolicyGeneration generation)
    {
        var (routes, _) = IngressRouteCatalog.Build(_reverseProxy, generation.Policy, _siteRegion);
        if (routes is null)
        {
            // The validator refused such a policy before the swap; nothing to bind to.
            return;
        }
        // The previous generation's pooled minimizers are left to the garbage collector: requests still in flight under
        // it return theirs there.
        Volatile.Write(ref _current, new HttpIngressGeneration(generation, routes, new BodyMinimizers(generation.Policy, _key, _gates, _learned)));
    }
}
