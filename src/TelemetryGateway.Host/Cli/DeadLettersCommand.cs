using System.Globalization;
using Microsoft.Data.Sqlite;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Mqtt.Outbox;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>dead-letters list</c> and <c>dead-letters replay (--id N | --all)</c>: outputs the upstream rejected, as reason,
/// stream, purpose, size and time (never topic or payload), and moving them back into the outbox once the cause is fixed.
/// </summary>
internal static class DeadLettersCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0)
        {
            return Usage.Error(error, "expected: dead-letters list|replay");
        }
        var dataDirectory = GatewayOptions.DefaultDataDirectory;
        long? id = null;
        var all = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data-dir" when i + 1 < args.Length:
                    dataDirectory = args[++i];
                    break;
                case "--id" when i + 1 < args.Length && long.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed):
                    id = parsed;
                    i++;
                    break;
                case "--all":
                    all = true;
                    break;
                default:
                    return Usage.Error(error, $"unexpected argument '{args[i]}'");
            }
        }
        try
        {
            switch (args[0])
            {
                case "list" when id is null && !all:
                    var entries = DeadLetterArchive.List(dataDirectory);
                    foreach (var entry in entries)
                    {
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{entry.Id}\t{entry.Time:yyyy-MM-ddTHH:mm:ssZ}\t{entry.Reason}\t{entry.Stream}\t{entry.Purpose}\t{entry.Size} bytes\t{(entry.PayloadKept ? "replayable" : "payload deleted")}"));
                    }
                    output.WriteLine($"{entries.Count} dead letters");
                    return Usage.Success;
                case "replay" when id is not null ^ all:
                    var replayed = DeadLetterArchive.Replay(dataDirectory, id);
                    output.WriteLine($"{replayed} dead letters moved back into the outbox");
                    return id is not null && replayed == 0 ? Usage.Failure : Usage.Success;
                default:
                    return Usage.Error(error, "expected: dead-letters list [--data-dir DIR] | dead-letters replay (--id N | --all) [--data-dir DIR]");
            }
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or SqliteException)
        {
            error.WriteLine($"telemetry-gateway: {e.Message}");
            return Usage.Failure;
        }
    }
}
