using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace TelemetryGateway.Http.Ingress;

/// <summary>
/// The step of YARP's proxy pipeline that puts a request's body through the gateway's pipeline before it is forwarded,
/// as a message is: the route names the stream purpose (classify), the gates decide for the device, the policy's
/// format minimizes it (streamed block by block, or read whole for formats whose rewrite ends with the body), the
/// forwarded request carries the purpose's tags, and the body is recorded once it was forwarded. Checks the route's
/// limits and decompresses gzip on the way. Rejections (403, 413, 415, 422) are answered here and counted; nothing of
/// a rejected body is forwarded.
/// </summary>
internal sealed partial class IngressMiddleware(
    RequestDelegate next, HttpIngressGenerations generations, IngressCounters counters, ILogger<IngressMiddleware> logger)
{
    private static readonly string s_processingFault = QuarantineReason.ProcessingFault.Id();

    public async Task InvokeAsync(HttpContext context)
    {
        var routeId = context.GetReverseProxyFeature().Route.Config.RouteId;
        // One policy generation for the whole request: its route (and tags), minimizer and records.
        var generation = generations.Current;
        var route = generation.Routes.Find(routeId);
        if (route is null)
        {
            // Every route is validated at start; this only guards against a reloaded configuration.
            await RejectAsync(context, routeId, new BodyRejection(StatusCodes.Status404NotFound, "route-not-configured"));
            return;
        }
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) && !HttpMethods.IsPut(request.Method))
        {
            await RejectAsync(context, routeId, new BodyRejection(StatusCodes.Status405MethodNotAllowed, "method-not-allowed"));
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            // Kestrel's own limit becomes the route's (for a gzip body, this bounds the compressed bytes).
            sizeLimit.MaxRequestBodySize = route.MaxBodyBytes;
        }
        if (request.ContentLength > route.MaxBodyBytes)
        {
            await RejectAsync(context, routeId, BodyRejection.TooLarge);
            return;
        }
        var encoding = request.Headers.ContentEncoding.ToString();
        var gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            await RejectAsync(context, routeId, new BodyRejection(StatusCodes.Status415UnsupportedMediaType, "unsupported-content-encoding"));
            return;
        }
        if (route.Format == PayloadFormat.Image && !IsImageType(request.ContentType))
        {
            // The policy says photos; a body that declares another type is not one the gateway can vouch for.
            await RejectAsync(context, routeId, new BodyRejection(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type"));
            return;
        }
        var device = DeviceOf(context, route);
        if (device is null && route.Format == PayloadFormat.Text)
        {
            // A log's scrubber must know the device's serial to pseudonymize or drop it wherever it appears.
            await RejectAsync(context, routeId, new BodyRejection(StatusCodes.Status400BadRequest, "missing-device-serial"));
            return;
        }
        var minimizer = generation.Minimizers.Rent();
        try
        {
            if (minimizer.BeginBody(route.Stream, route.Purpose, device) is not null)
            {
                await RejectAsync(context, routeId, BodyRejection.PurposeRefused);
                return;
            }
            var ratio = gzip ? new GzipRatio(request.Body, route.MaxGzipRatio) : null;
            var source = ratio is not null ? PipeReader.Create(new GZipStream(ratio, CompressionMode.Decompress)) : request.BodyReader;
            // The tag transform reads the route from here, so the headers carry this generation's tags.
            context.Features.Set(route);
            // The request's budget: reading, decompressing and rewriting its body end by then (408), whatever the client sends.
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            budget.CancelAfter(route.MaxRequestTime);
            var work = new RequestWork(ratio, () => budget.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested, budget.Token);
            if (route.Streams)
            {
                await ForwardStreamingAsync(context, route, minimizer, source, gzip, work);
            }
            else
            {
                await ForwardWholeAsync(context, route, minimizer, source, gzip, work);
            }
        }
        finally
        {
            generation.Minimizers.Return(minimizer);
        }
    }

    /// <summary>What bounds the work on one request body: the gzip expansion ratio and the time budget.</summary>
    private sealed record RequestWork(GzipRatio? Ratio, Func<bool> BudgetExpired, CancellationToken Budget)
    {
        /// <summary>A read cut short by the budget (not by the client) is the budget's 408.</summary>
        public BodyRejection Explain(BodyRejection rejection) =>
            rejection == BodyRejection.ClientAborted && BudgetExpired() ? new BodyRejection(StatusCodes.Status408RequestTimeout, "time-budget-exceeded") : rejection;
    }

    private async Task ForwardWholeAsync(HttpContext context, IngressRoute route, Minimizer minimizer, PipeReader source, bool gzip, RequestWork work)
    {
        var (body, rejection) = await WholeBodies.MinimizeAsync(source, route, minimizer, gzip, work.Budget, work.Ratio);
        if (rejection is { } r)
        {
            r = work.Explain(r);
            LogIfFault(route, minimizer, r);
            await RejectAsync(context, route.RouteId, r);
            return;
        }
        context.Request.Body = new MemoryStream(body!, writable: false);
        context.Request.ContentLength = body!.Length;
        await next(context);
        // The record step once forwarded, as for a streamed body: a body the upstream never got is not in the records.
        if (CountForwarded(context, route))
        {
            minimizer.RecordForwarded();
        }
    }

    private async Task ForwardStreamingAsync(HttpContext context, IngressRoute route, Minimizer minimizer, PipeReader source, bool gzip, RequestWork work)
    {
        var pipe = new Pipe(BodyPump.PipeOptions);
        var pump = BodyPump.RunAsync(source, minimizer, pipe.Writer, gzip, route.MaxBodyBytes, work.Budget, work.Ratio);
        context.Request.Body = pipe.Reader.AsStream();
        context.Request.ContentLength = null;
        BodyRejection? rejection;
        try
        {
            await next(context);
        }
        finally
        {
            // Done with the body: this also releases a pump waiting on a full pipe when YARP never read it.
            await pipe.Reader.CompleteAsync();
            rejection = await pump;
        }
        if (rejection is { } r)
        {
            r = work.Explain(r);
            LogIfFault(route, minimizer, r);
            if (!context.Response.HasStarted)
            {
                // YARP answered the aborted body with its own error status; the client learns the real reason.
                context.Response.Clear();
                context.Response.StatusCode = r.Status;
            }
            Count(route.RouteId, r);
            return;
        }
        if (CountForwarded(context, route))
        {
            minimizer.RecordForwarded();
        }
    }

    /// <summary>Counts the request as forwarded unless YARP reported an error; returns whether it was forwarded.</summary>
    private bool CountForwarded(HttpContext context, IngressRoute route)
    {
        if (context.Features.Get<IForwarderErrorFeature>() is { } error)
        {
            LogForwardFailed(logger, route.RouteId, error.Error.ToString());
            return false;
        }
        counters.Forwarded(route.RouteId);
        return true;
    }

    /// <summary>
    /// The device the body is about (for a log, the serial its scrubber pseudonymizes or drops wherever it appears; for
    /// every body, the device the gates decide for): the route value named by the route (default <c>{sn}</c> in YARP's
    /// <c>Match:Path</c>), else the <c>X-Device-Serial</c> header. Up to 64 ASCII letters, digits, '-' or '_'; null
    /// when there is none such.
    /// </summary>
    private static string? DeviceOf(HttpContext context, IngressRoute route)
    {
        var value = context.Request.RouteValues.TryGetValue(route.DeviceRouteValue, out var routeValue) && routeValue is string fromRoute
            ? fromRoute
            : context.Request.Headers[IngressHeaders.DeviceSerial].ToString();
        return value.Length is 0 or > 64 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? null : value;
    }

    private static bool IsImageType(string? contentType) =>
        contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && (mediaType.MediaType.Equals("image/jpeg", StringComparison.OrdinalIgnoreCase) || mediaType.MediaType.Equals("image/png", StringComparison.OrdinalIgnoreCase));

    /// <summary>A fault of the engine on a body is logged as on a message: the stream and the exception type, never the body.</summary>
    private void LogIfFault(IngressRoute route, Minimizer minimizer, BodyRejection rejection)
    {
        if (rejection.Reason == s_processingFault)
        {
            LogProcessingFault(logger, route.RouteId, route.Stream.Name, minimizer.LastFault ?? "unknown");
        }
    }

    private async Task RejectAsync(HttpContext context, string routeId, BodyRejection rejection)
    {
        Count(routeId, rejection);
        context.Response.StatusCode = rejection.Status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(rejection.Reason + "\n", context.RequestAborted);
    }

    private void Count(string routeId, BodyRejection rejection)
    {
        counters.Rejected(routeId, rejection.Status, rejection.Reason);
        LogRejected(logger, routeId, rejection.Status, rejection.Reason);
    }

    [LoggerMessage(EventId = EventIds.HttpRequestRejected, Level = LogLevel.Information, Message = "HTTP ingress route {Route}: request rejected with {Status} ({Reason})")]
    private static partial void LogRejected(ILogger logger, string route, int status, string reason);

    [LoggerMessage(EventId = EventIds.HttpProcessingFault, Level = LogLevel.Error, Message = "HTTP ingress route {Route}: processing fault on a {Stream} body ({Error}); rejected, nothing of it was forwarded")]
    private static partial void LogProcessingFault(ILogger logger, string route, string stream, string error);

    [LoggerMessage(EventId = EventIds.HttpForwardFailed, Level = LogLevel.Warning, Message = "HTTP ingress route {Route}: forwarding failed ({Error})")]
    private static partial void LogForwardFailed(ILogger logger, string route, string error);
}
