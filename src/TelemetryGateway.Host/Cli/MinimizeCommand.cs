using System.Buffers;
using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Configuration;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>minimize</c>: runs the engine over one payload or an NDJSON batch and writes what the cloud would receive,
/// one NDJSON line per output (or per quarantined input), so policy authors and auditors can see the effect of a policy.
/// With <c>--text</c>, a payload that is UTF-8 text is written as <c>payloadText</c> (binary ones stay base64). How many
/// inputs matched no stream (and so produced no line) is said on standard error.
/// </summary>
internal static class MinimizeCommand
{
    public static int Run(string[] args, Stream standardInput, Stream standardOutput, TextWriter error)
    {
        if (!TryParse(args, out var arguments, out var problem))
        {
            return Usage.Error(error, problem);
        }
        var policy = PolicyCommand.TryCompile(arguments.PolicyPath, error);
        if (policy is null)
        {
            return Usage.UsageError;
        }
        PseudonymizationKey key;
        try
        {
            key = arguments.KeyFile is { } keyFile ? PseudonymizationKey.FromFile(keyFile) : PseudonymizationKey.LoadOrCreate(GatewayOptions.DefaultDataDirectory);
        }
        catch (Exception e) when (e is KeyMaterialException or IOException or UnauthorizedAccessException)
        {
            return Usage.Error(error, e.Message);
        }

        using var minimizer = new Minimizer(policy, key);
        using var json = new Utf8JsonWriter(standardOutput, new JsonWriterOptions { Indented = false });
        if (arguments.Topic is { } topic)
        {
            byte[] payload;
            try
            {
                payload = arguments.InputPath is { } input ? File.ReadAllBytes(input) : ReadAll(standardInput);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Usage.Error(error, $"cannot read input: {e.Message}");
            }
            var single = minimizer.Minimize(topic, new ReadOnlySequence<byte>(payload));
            Write(json, standardOutput, 0, single, arguments.Text);
            ReportUnmatched(error, single.IsMatched ? 0 : 1);
            return Usage.Success;
        }

        IEnumerable<string> lines;
        try
        {
            lines = File.ReadLines(arguments.BatchPath!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Usage.Error(error, $"cannot read batch: {e.Message}");
        }
        var index = -1;
        var failed = 0;
        var unmatched = 0;
        foreach (var line in lines)
        {
            index++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            if (!TryReadBatchLine(line, out var lineTopic, out var payload, out var lineProblem))
            {
                // The line itself is unusable (not the payload): say which line and why, never its content.
                error.WriteLine($"telemetry-gateway: batch line {index + 1}: {lineProblem}");
                failed++;
                continue;
            }
            var result = minimizer.Minimize(lineTopic, new ReadOnlySequence<byte>(payload));
            unmatched += result.IsMatched ? 0 : 1;
            Write(json, standardOutput, index, result, arguments.Text);
        }
        ReportUnmatched(error, unmatched);
        return failed == 0 ? Usage.Success : Usage.Failure;
    }

    private static void ReportUnmatched(TextWriter error, int unmatched)
    {
        if (unmatched > 0)
        {
            error.WriteLine($"telemetry-gateway: {unmatched} input(s) matched no stream of the policy and produced no output");
        }
    }

    private static void Write(Utf8JsonWriter json, Stream output, int input, MinimizationResult result, bool text)
    {
        if (!result.IsMatched)
        {
            return;
        }
        if (result.IsQuarantined)
        {
            json.WriteStartObject();
            json.WriteNumber("input", input);
            json.WriteString("quarantined", result.QuarantineReason.Id());
            json.WriteEndObject();
            EndLine(json, output);
            return;
        }
        foreach (var item in result.Outputs.Span)
        {
            var tags = item.Tags.OutputTags;
            json.WriteStartObject();
            json.WriteNumber("input", input);
            json.WriteString("topic", item.Topic.Span);
            json.WriteString("purpose", tags.PurposeUtf8.Span);
            json.WriteString("legalBasis", tags.LegalBasisUtf8.Span);
            json.WriteStartArray("categories");
            foreach (var category in tags.CategoryList)
            {
                json.WriteStringValue(category);
            }
            json.WriteEndArray();
            json.WriteString("policy", tags.PolicyUtf8.Span);
            json.WriteString("retention", tags.RetentionUtf8.Span);
            json.WriteString("contentType", result.Stream!.Format.ContentType());
            if (text && System.Text.Unicode.Utf8.IsValid(item.Payload.Span))
            {
                json.WriteString("payloadText", item.Payload.Span);
            }
            else
            {
                json.WriteBase64String("payloadBase64", item.Payload.Span);
            }
            json.WriteEndObject();
            EndLine(json, output);
        }
    }

    private static void EndLine(Utf8JsonWriter json, Stream output)
    {
        json.Flush();
        output.WriteByte((byte)'\n');
        json.Reset(output);
    }

    private static bool TryReadBatchLine(string line, out string topic, out byte[] payload, out string problem)
    {
        topic = string.Empty;
        payload = [];
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            problem = "not a JSON object";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "not a JSON object";
                return false;
            }
            if (!root.TryGetProperty("topic", out var topicElement) || topicElement.ValueKind != JsonValueKind.String)
            {
                problem = "'topic' (a string) is required";
                return false;
            }
            topic = topicElement.GetString()!;
            if (root.TryGetProperty("payloadBase64", out var base64) && base64.ValueKind == JsonValueKind.String)
            {
                if (!base64.TryGetBytesFromBase64(out var bytes))
                {
                    problem = "'payloadBase64' is not valid base64";
                    return false;
                }
                payload = bytes;
            }
            else if (root.TryGetProperty("payloadText", out var text) && text.ValueKind == JsonValueKind.String)
            {
                payload = Encoding.UTF8.GetBytes(text.GetString()!);
            }
            else
            {
                problem = "'payloadText' or 'payloadBase64' (a string) is required";
                return false;
            }
        }
        problem = string.Empty;
        return true;
    }

    private static byte[] ReadAll(Stream input)
    {
        using var buffer = new MemoryStream();
        input.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static bool TryParse(string[] args, out Arguments arguments, out string problem)
    {
        arguments = new Arguments();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == "--text")
            {
                arguments = arguments with { Text = true };
                continue;
            }
            if (i + 1 >= args.Length)
            {
                problem = $"option '{name}' needs a value";
                return false;
            }
            var value = args[++i];
            switch (name)
            {
                case "--policy": arguments = arguments with { PolicyPath = value }; break;
                case "--key-file": arguments = arguments with { KeyFile = value }; break;
                case "--topic": arguments = arguments with { Topic = value }; break;
                case "--in": arguments = arguments with { InputPath = value }; break;
                case "--batch": arguments = arguments with { BatchPath = value }; break;
                default:
                    problem = $"unknown option '{name}'";
                    return false;
            }
        }
        problem = arguments switch
        {
            { PolicyPath: null or "" } => "--policy FILE is required",
            { Topic: null, BatchPath: null } => "one of --topic TOPIC or --batch FILE is required",
            { Topic: not null, BatchPath: not null } => "--topic and --batch cannot be combined",
            { InputPath: not null, BatchPath: not null } => "--in goes with --topic, not with --batch",
            _ => string.Empty,
        };
        return problem.Length == 0;
    }

    private sealed record Arguments
    {
        public string PolicyPath { get; init; } = string.Empty;
        public string? KeyFile { get; init; }
        public string? Topic { get; init; }
        public string? InputPath { get; init; }
        public string? BatchPath { get; init; }
        public bool Text { get; init; }
    }
}
