namespace TelemetryGateway.Http.Routing;

/// <summary>What a route's request bodies are, which decides how the engine rewrites them.</summary>
internal enum BodyFormat
{
    /// <summary>A JSON document, rewritten under the stream purpose's field rules (buffered up to the route's limit).</summary>
    Json,
    /// <summary>Text log lines, scrubbed line by line while streaming.</summary>
    Text,
    /// <summary>A JPEG or PNG photo (by Content-Type), stripped of metadata while streaming.</summary>
    Image,
}
