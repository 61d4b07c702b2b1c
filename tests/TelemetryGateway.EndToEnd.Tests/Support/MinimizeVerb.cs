using System.Text;
using System.Text.Json;
using TelemetryGateway.Host.Cli;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>What the <c>minimize</c> verb writes for an NDJSON batch under the shipped policy: what the gateway must deliver.</summary>
internal static class MinimizeVerb
{
    /// <summary>One element per line the verb wrote (an output, or an input's quarantine), in order.</summary>
    public static List<JsonElement> Run(string keyFile, string batch)
    {
        using var output = new MemoryStream();
        var error = new StringWriter();
        var exit = MinimizeCommand.Run(["--policy", GatewayProcess.Policy, "--key-file", keyFile, "--batch", batch], Stream.Null, output, error);
        Assert.True(exit == 0, error.ToString());
        var lines = new List<JsonElement>();
        foreach (var line in Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line);
            lines.Add(document.RootElement.Clone());
        }
        return lines;
    }
}
