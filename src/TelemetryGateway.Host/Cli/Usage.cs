namespace TelemetryGateway.Host.Cli;

/// <summary>The command-line synopsis, and the exit codes every verb shares.</summary>
internal static class Usage
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;

    public const string Text = """
        usage:
          telemetry-gateway [--Gateway:Key=value ...]      run the gateway (configuration: appsettings.json, Gateway__* environment variables, command line)
          telemetry-gateway policy validate FILE           check a policy file; exit 0 valid, 1 invalid (every error listed)
          telemetry-gateway minimize --policy FILE [--key-file FILE] (--topic TOPIC [--in FILE] | --batch FILE)
                                                           minimize one payload (file or standard input) or an NDJSON batch;
                                                           writes one NDJSON line per output or quarantined input
        """;

    public static int Print(TextWriter output)
    {
        output.WriteLine(Text);
        return Success;
    }

    public static int Error(TextWriter error, string message)
    {
        error.WriteLine($"telemetry-gateway: {message}");
        error.WriteLine(Text);
        return UsageError;
    }
}
