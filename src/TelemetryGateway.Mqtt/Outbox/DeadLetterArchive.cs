using Microsoft.Data.Sqlite;

namespace TelemetryGateway.Mqtt.Outbox;

/// <summary>One dead letter as an operator sees it: no topic and no payload (they carry personal data), only what explains it.</summary>
public sealed record DeadLetterEntry(long Id, DateTimeOffset Time, string Reason, string Stream, string Purpose, long Size, bool PayloadKept);

/// <summary>
/// The dead letters of an outbox file, for operators (the <c>dead-letters</c> verb): list them, and replay those whose
/// payload is still kept, which moves them back into the outbox behind everything waiting there. Works while the
/// gateway runs (SQLite WAL; the gateway picks replayed outputs up within its maintenance interval) or is stopped.
/// </summary>
public static class DeadLetterArchive
{
    /// <summary>The dead letters, oldest first; throws <see cref="FileNotFoundException"/> when there is no outbox.</summary>
    public static IReadOnlyList<DeadLetterEntry> List(string dataDirectory)
    {
        using var connection = Connect(dataDirectory);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, time, reason, stream, purpose, size, record IS NOT NULL FROM dead_letters ORDER BY id;";
        using var reader = command.ExecuteReader();
        var entries = new List<DeadLetterEntry>();
        while (reader.Read())
        {
            entries.Add(new DeadLetterEntry(
                reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6) == 1));
        }
        return entries;
    }

    /// <summary>
    /// Moves dead letter <paramref name="id"/> (all of them when null) with a kept payload back into the outbox, in
    /// their original order; returns how many were replayed. Their retention still counts from when they were accepted.
    /// </summary>
    public static int Replay(string dataDirectory, long? id)
    {
        using var connection = Connect(dataDirectory);
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var filter = id is null ? "record IS NOT NULL" : "record IS NOT NULL AND id = $id";
        command.CommandText = $"""
            INSERT INTO outbox (record, expires_at, device, purpose, legal_basis, destination)
              SELECT record, expires_at, device, purpose, legal_basis, destination FROM dead_letters WHERE {filter} ORDER BY id;
            DELETE FROM dead_letters WHERE {filter};
            """;
        if (id is { } single)
        {
            command.Parameters.AddWithValue("$id", single);
        }
        command.ExecuteNonQuery();
        using var changes = connection.CreateCommand();
        changes.Transaction = transaction;
        changes.CommandText = "SELECT changes();";
        var replayed = Convert.ToInt32(changes.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        transaction.Commit();
        return replayed;
    }

    internal static SqliteConnection Connect(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, SqliteOutbox.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No outbox in '{dataDirectory}'.", path);
        }
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 10 }.ToString());
        connection.Open();
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA busy_timeout=10000;";
        check.ExecuteNonQuery();
        check.CommandText = "SELECT user_version FROM pragma_user_version;";
        if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != SqliteOutbox.FormatVersion)
        {
            connection.Dispose();
            throw new InvalidDataException($"The outbox in '{dataDirectory}' is not in format {SqliteOutbox.FormatVersion}; start the gateway once to upgrade it.");
        }
        return connection;
    }
}
