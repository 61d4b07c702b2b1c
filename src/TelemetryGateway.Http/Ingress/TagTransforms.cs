using System.Net.Http.Headers;
using TelemetryGateway.Http.Routing;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// What the forwarded request carries besides its body: the tags of the route's stream purpose as headers, the
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
                foreach (var (name, value) in route.Tags)
                {
                    headers.TryAddWithoutValidation(name, value);
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
}
