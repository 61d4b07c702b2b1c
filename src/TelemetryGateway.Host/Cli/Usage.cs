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
          telemetry-gateway minimize --policy FILE [--key-file FILE] [--text] (--topic TOPIC [--in FILE] | --batch FILE)
                                                           minimize one payload (file or standard input) or an NDJSON batch;
                                                           writes one NDJSON line per output or quarantined input (--text: text
                                                           payloads as payloadText); inputs matching no stream are counted on
                                                           standard error
          telemetry-gateway tail [--host H] [--port P] [--filter F] [--count N] [--timeout SECONDS]
                                                           subscribe to the gateway's local outputs (filtered/# on 127.0.0.1:1883 by
                                                           default) and print each as one JSON line: topic, tags, stream, payload
                                                           (envelopes decoded); ends after N outputs or SECONDS (exit 1 if fewer)
          telemetry-gateway users add NAME [--role device|installer|cloud] [--serial SERIAL] [--min-length N] [--file FILE]
                                                           add or replace a user of the credentials file (default: users.json in the
                                                           default data directory); the password (at least 12 characters unless
                                                           --min-length says otherwise) is typed twice without echo, or read as the
                                                           first line of redirected standard input
          telemetry-gateway users list [--file FILE]       the users of the credentials file: name, role (and serial)
          telemetry-gateway users remove NAME [--file FILE]
                                                           remove a user; a running gateway refuses it from its next connection
          telemetry-gateway dead-letters list [--data-dir DIR]
                                                           outputs the upstream rejected: id, time, reason, stream, purpose, size
          telemetry-gateway dead-letters replay (--id N | --all) [--data-dir DIR]
                                                           move dead letters whose payload is still kept back into the outbox
          telemetry-gateway consent grant|withdraw|object|lift-objection|restrict|lift-restriction --device SERIAL
                    [--purposes ID,ID] [--all-legitimate-interest] --notice-version VERSION [--actor NAME] [--data-dir DIR]
                                                           record a data subject's choice for a device (takes effect for its next
                                                           message; its waiting outputs the choice refuses are removed)
          telemetry-gateway consent show|erase --device SERIAL [--actor NAME] [--data-dir DIR] [--key-file FILE] [--previous-key-file FILE ...]
                                                           the device's choices, history, pseudonym and waiting outputs as JSON; or
                                                           erase its records, waiting outputs and dead letters (one audit entry stays)
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
