using System.Net.Http.Headers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Http.Routing;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// What the forwarded request carries besides its body: the tags of the route's stream purpose as headers (its
/// <see cref="OutputTags"/>), the
/// body's Content-Type (and Content-Encoding, Content-Length), and nothing else of the incoming request. Headers are
/// not copied (they may hold the API key, cookies, a device serial, the client's address in X-Forwarded-For), the
/// X-Forwarded-* headers are not added, and the query string is dropped.
/// </summary>
internal static class TagTransforms
{
    public static void Apply(TransformBuilderContext builder, IngressRouteCatalog catalog)
    {
        if (catalog.Find(builder.Route.RouteId) is null)
        {
            return;
        }
        builder.CopyRequestHeaders = false;
        builder.UseDefaultForwarders = false;
        builder.AddRequestTransform(context =>
        {
            context.Query.Collection.Clear();
            var headers = context.ProxyRequest.Headers;
            // The route of the policy generation the body was rewritten under (set by the ingress step).
            if (context.HttpContext.Features.Get<IngressRoute>() is { } route)
            {
                AddTags(headers, route.Purpose.OutputTags);
                if (route.Region.Length > 0)
                {
                    headers.TryAddWithoutValidation(IngressHeaders.DestinationRegion, route.Region);
                    headers.TryAddWithoutValidation(IngressHeaders.TransferSafeguard, route.Safeguard);
                }
            }
            if (context.ProxyRequest.Content is { } content)
            {
                var request = context.HttpContext.Request;
                if (request.ContentType is { } contentType && MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
                {
                    content.Headers.ContentType = mediaType;
                }
                if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    content.Headers.ContentEncoding.Add(encoding);
                }
                if (request.ContentLength is { } length)
                {
                    content.Headers.ContentLength = length;
                }
            }
            return ValueTask.CompletedTask;
        });
    }

    /// <summary>The purpose's compiled tags (the ones MQTT properties and the envelope carry) as the ingress's headers.</summary>
    public static void AddTags(HttpRequestHeaders headers, OutputTags tags)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(tags);
        headers.TryAddWithoutValidation(IngressHeaders.Purpose, tags.Purpose);
        headers.TryAddWithoutValidation(IngressHeaders.LegalBasis, tags.LegalBasis);
        headers.TryAddWithoutValidation(IngressHeaders.DataCategories, tags.Categories);
        headers.TryAddWithoutValidation(IngressHeaders.Policy, tags.Policy);
        headers.TryAddWithoutValidation(IngressHeaders.Retention, tags.Retention);
    }
}
