using Microsoft.Data.Sqlite;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Mqtt.Outbox;

/// <summary>
/// The data subject's rights over the outputs of one device still in the outbox file (notice 9.4, 9.6, 9.7, 9.8): those
/// its new choices refuse are deleted, an erasure deletes them all and its dead letters. Works on its own connection,
/// while the gateway runs (SQLite WAL; the running outbox recounts when told, or at its next maintenance) or is stopped
/// (the CLI). With <paramref name="beginRecall"/> (the running outbox's), a removal is a recall: outputs the drainer already
/// read but has not yet handed to the upstream are checked again and not sent; only a publish already under way when
/// the removal began can still go out (at most the upstream's in-flight window).
/// </summary>
public sealed class OutboxWaitingOutputs(
    string dataDirectory, Func<CancellationToken, Task>? afterChange = null, Func<CancellationToken, Task<IDisposable>>? beginRecall = null) : IWaitingOutputs
{
    public async Task<int> RemoveRefusedAsync(string device, DeviceChoices choices, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(choices);
        if (!Exists)
        {
            return 0;
        }
        int removed;
        using (await BeginRecallAsync(cancellationToken))
        using (var connection = DeadLetterArchive.Connect(dataDirectory))
        using (var transaction = connection.BeginTransaction())
        {
            var refused = new List<long>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = "SELECT seq, purpose, legal_basis FROM outbox WHERE device = $device;";
                select.Parameters.AddWithValue("$device", device);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    // An output whose purpose or basis this version cannot read is left alone: it was produced under a policy.
                    if (PrivacyVocabulary.TryParsePurpose(reader.GetString(1), out var purpose)
                        && PrivacyVocabulary.TryParseLegalBasis(reader.GetString(2), out var basis)
                        && choices.Refusal(purpose, basis) is not null)
                    {
                        refused.Add(reader.GetInt64(0));
                    }
                }
            }
            using (var delete = connection.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM outbox WHERE seq = $seq;";
                var parameter = delete.Parameters.Add("$seq", SqliteType.Integer);
                foreach (var sequence in refused)
                {
                    parameter.Value = sequence;
                    delete.ExecuteNonQuery();
                }
            }
            transaction.Commit();
            removed = refused.Count;
        }
        if (removed > 0 && afterChange is not null)
        {
            await afterChange(cancellationToken);
        }
        return removed;
    }

    public async Task<(int Outputs, int DeadLetters)> EraseAsync(string device, CancellationToken cancellationToken)
    {
        if (!Exists)
        {
            return (0, 0);
        }
        int outputs;
        int deadLetters;
        using (await BeginRecallAsync(cancellationToken))
        using (var connection = DeadLetterArchive.Connect(dataDirectory))
        {
            using (var secure = connection.CreateCommand())
            {
                // Deleted content is overwritten in the file, not only unlinked from the tree.
                secure.CommandText = "PRAGMA secure_delete=ON;";
                secure.ExecuteNonQuery();
            }
            using var transaction = connection.BeginTransaction();
            outputs = Delete(connection, transaction, "DELETE FROM outbox WHERE device = $device;", device);
            deadLetters = Delete(connection, transaction, "DELETE FROM dead_letters WHERE device = $device;", device);
            transaction.Commit();
            using var checkpoint = connection.CreateCommand();
            // The deleted rows' old pages may still sit in the write-ahead log: copy it back and truncate it (best effort:
            // while the gateway's drainer reads, the log is truncated at a later checkpoint).
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            checkpoint.ExecuteNonQuery();
        }
        if (outputs + deadLetters > 0 && afterChange is not null)
        {
            await afterChange(cancellationToken);
        }
        return (outputs, deadLetters);
    }

    public long CountWaiting(string device)
    {
        if (!Exists)
        {
            return 0;
        }
        using var connection = DeadLetterArchive.Connect(dataDirectory);
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM outbox WHERE device = $device;";
        count.Parameters.AddWithValue("$device", device);
        return Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<IDisposable?> BeginRecallAsync(CancellationToken cancellationToken) =>
        beginRecall is null ? null : await beginRecall(cancellationToken);

    private bool Exists => File.Exists(Path.Combine(dataDirectory, SqliteOutbox.FileName));

    private static int Delete(SqliteConnection connection, SqliteTransaction transaction, string sql, string device)
    {
        using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = sql;
        delete.Parameters.AddWithValue("$device", device);
        return delete.ExecuteNonQuery();
    }
}
