using System.Globalization;
using Microsoft.Data.Sqlite;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Storage;
using TelemetryGateway.Core.Transforms;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Registry;

/// <summary>
/// The registry of the data subjects' choices (consent, objection, restriction) per device, in SQLite in the data
/// directory: one append-only history table whose rows are the records (when, by whom, from where, under which notice
/// version); the current choices are the fold of a device's rows in order. The gates read an immutable
/// <see cref="ChoicesSnapshot"/> that is replaced after every change, so the message path never queries the store.
/// Changes made by another process (the CLI while the gateway runs) are picked up by <see cref="Refresh"/>.
/// </summary>
internal sealed class ChoiceRegistry : IDataSubjectRights, IConsentRegistry, IDisposable
{
    public const string FileName = "registry.db";
    internal const int FormatVersion = 1;

    private readonly SqliteConnection _connection;
    private readonly IWaitingOutputs? _waiting;
    private readonly IDeviceMemory? _memory;
    // The last erasure this instance has applied to the memory (erasures of other processes are found past it).
    private long _lastErasure;
    private readonly PseudonymizationKey _key;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private ChoicesSnapshot _current = ChoicesSnapshot.Empty;
    private long _dataVersion;

    private ChoiceRegistry(string path, PseudonymizationKey key, IWaitingOutputs? waiting, IDeviceMemory? memory, TimeProvider time)
    {
        _key = key;
        _waiting = waiting;
        _memory = memory;
        _time = time;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 10,
        }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA secure_delete=ON;");
        var format = Scalar("SELECT user_version FROM pragma_user_version;");
        if (format is not (0 or FormatVersion))
        {
            _connection.Dispose();
            throw new InvalidDataException($"The registry has format {format}; this gateway reads format {FormatVersion}.");
        }
        // The history is the record: rows are appended, never changed. An erasure (notice 9.6) is the only deletion: it
        // removes a device's rows and appends one row naming the device by its pseudonym only.
        Execute($"""
            CREATE TABLE IF NOT EXISTS history (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              time INTEGER NOT NULL,
              device TEXT NOT NULL,
              action TEXT NOT NULL,
              purposes TEXT NOT NULL,
              all_legitimate_interest INTEGER NOT NULL,
              notice_version TEXT NOT NULL,
              actor TEXT NOT NULL,
              source TEXT NOT NULL,
              pseudonym TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS history_device ON history (device, seq);
            CREATE TRIGGER IF NOT EXISTS history_append_only BEFORE UPDATE ON history
              BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
            PRAGMA user_version={FormatVersion};
            """);
        Reload();
        _lastErasure = Scalar($"SELECT COALESCE(MAX(seq), 0) FROM history WHERE action = '{ChoiceIds.Erase}';");
    }

    /// <summary>
    /// Opens (or creates, 0600) the registry of <paramref name="dataDirectory"/>. <paramref name="waiting"/> is where the
    /// device's outputs wait (null: nowhere to remove from); <paramref name="memory"/> what else is remembered of a device
    /// (the learned values; null: nothing); <paramref name="key"/> names erased devices.
    /// </summary>
    public static ChoiceRegistry Open(string dataDirectory, PseudonymizationKey key, IWaitingOutputs? waiting, IDeviceMemory? memory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        PrivateFiles.EnsureFile(path);
        PrivateFiles.Narrow(path + "-wal");
        PrivateFiles.Narrow(path + "-shm");
        return new ChoiceRegistry(path, key, waiting, memory, time ?? TimeProvider.System);
    }

    public ChoicesSnapshot Current => Volatile.Read(ref _current);

    public bool HasConsent(Purpose purpose, ReadOnlySpan<char> device) => Current.Of(device).HasConsent(purpose);

    public async Task<ChoiceOutcome> RecordAsync(ChoiceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = ChoiceRequestRules.Validate(request);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(request));
        }
        ChoiceRecord record;
        DeviceChoices choices;
        lock (_lock)
        {
            var time = _time.GetUtcNow();
            var sequence = Append(time, request.Device, request.Action.Id(), request.Purposes, request.AllLegitimateInterest, request.NoticeVersion, request.Actor, request.Source.Id(), "");
            record = new ChoiceRecord(sequence, FromMilliseconds(time.ToUnixTimeMilliseconds()), request);
            choices = Current.Of(request.Device).Apply(request);
            Volatile.Write(ref _current, Current.With(request.Device, choices));
        }
        // After the snapshot: from here the next message is gated by the new choices, so nothing refused is added behind
        // the removal.
        int removed;
        try
        {
            removed = _waiting is null ? 0 : await _waiting.RemoveRefusedAsync(request.Device, choices, cancellationToken);
        }
        catch (Exception e) when (e is SqliteException or IOException or InvalidDataException)
        {
            // The choice stands (recorded, and in effect for the next message); only the waiting outputs were out of reach.
            removed = ChoiceOutcome.WaitingOutputsUnreachable;
        }
        return new ChoiceOutcome(record, choices, removed);
    }

    public async Task<ErasureOutcome> EraseAsync(string device, string actor, ChoiceSource source, CancellationToken cancellationToken)
    {
        var errors = ChoiceRequestRules.DeviceErrors(device);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(device));
        }
        var pseudonym = PseudonymOf(device);
        int removedRecords;
        lock (_lock)
        {
            using var transaction = _connection.BeginTransaction();
            using (var delete = _connection.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM history WHERE device = $device;";
                delete.Parameters.AddWithValue("$device", device);
                removedRecords = delete.ExecuteNonQuery();
            }
            _lastErasure = Append(_time.GetUtcNow(), "", ChoiceIds.Erase, PurposeSet.Empty, false, "", actor, source.Id(), pseudonym, transaction);
            transaction.Commit();
            Volatile.Write(ref _current, Current.Without(device));
            // The deleted rows' old pages may still sit in the write-ahead log: copy it back and truncate it (best effort:
            // a reader of another process can hold it, and the next checkpoint does it then).
            Execute("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        var forgotten = _memory?.Forget(device) ?? 0;
        var (outputs, deadLetters) = _waiting is null ? (0, 0) : await _waiting.EraseAsync(device, cancellationToken);
        return new ErasureOutcome(pseudonym, removedRecords, outputs, deadLetters, forgotten);
    }

    public DeviceReport Report(string device)
    {
        var history = new List<ChoiceRecord>();
        var expiries = new List<DateTimeOffset>();
        lock (_lock)
        {
            using var select = _connection.CreateCommand();
            select.CommandText = "SELECT seq, time, device, action, purposes, all_legitimate_interest, notice_version, actor, source FROM history WHERE device = $device ORDER BY seq;";
            select.Parameters.AddWithValue("$device", device);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                if (reader.GetString(3) == ChoiceIds.Expire)
                {
                    expiries.Add(FromMilliseconds(reader.GetInt64(1)));
                }
                else if (ReadRecord(reader) is { } record)
                {
                    history.Add(record);
                }
            }
        }
        long waiting;
        try
        {
            waiting = _waiting?.CountWaiting(device) ?? 0;
        }
        catch (Exception e) when (e is SqliteException or IOException or InvalidDataException)
        {
            waiting = ChoiceOutcome.WaitingOutputsUnreachable;
        }
        return new DeviceReport(device, Current.Of(device), history, waiting, expiries);
    }

    /// <summary>
    /// The registry's retention (notice 8): the choices of every device whose last change is at least
    /// <paramref name="records"/> old end (an <c>expire</c> entry is appended; the device is then one without records:
    /// no consent, no objection, no restriction), and its waiting outputs the ended consent no longer covers are removed;
    /// then entries at least <paramref name="audit"/> old are deleted when they are no longer in effect: the entries an
    /// <c>expire</c> entry came after, the <c>expire</c> entries themselves once nothing before them is left, and the
    /// audit entries of erasures. The entries of choices still in effect stay, however old: they are the record of those
    /// choices. At most <see cref="MaxExpiriesPerPass"/> devices expire per pass (<see cref="RetentionOutcome.Complete"/>
    /// false: the next pass goes on). This is the only deletion besides an erasure.
    /// </summary>
    public async Task<RetentionOutcome> ApplyRetentionAsync(TimeSpan records, TimeSpan audit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(records, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(audit, records);
        var expired = new List<string>();
        RetentionOutcome outcome;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var nowMilliseconds = now.ToUnixTimeMilliseconds();
            using var transaction = _connection.BeginTransaction();
            using (var select = _connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = """
                    SELECT h.device FROM history h
                    WHERE h.device <> '' AND h.action <> $expire AND h.time <= $cutoff
                      AND h.seq = (SELECT MAX(seq) FROM history WHERE device = h.device)
                    ORDER BY h.seq LIMIT $limit;
                    """;
                select.Parameters.AddWithValue("$expire", ChoiceIds.Expire);
                select.Parameters.AddWithValue("$cutoff", nowMilliseconds - (long)records.TotalMilliseconds);
                select.Parameters.AddWithValue("$limit", MaxExpiriesPerPass + 1);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    expired.Add(reader.GetString(0));
                }
            }
            var complete = expired.Count <= MaxExpiriesPerPass;
            if (!complete)
            {
                expired.RemoveAt(expired.Count - 1);
            }
            foreach (var device in expired)
            {
                Append(now, device, ChoiceIds.Expire, PurposeSet.Empty, false, "", ChoiceIds.Retention, ChoiceIds.Retention, "", transaction);
            }
            var auditCutoff = nowMilliseconds - (long)audit.TotalMilliseconds;
            var deleted = Delete(transaction, auditCutoff, """
                DELETE FROM history WHERE time <= $cutoff AND device <> '' AND action <> $expire
                  AND EXISTS (SELECT 1 FROM history later WHERE later.device = history.device AND later.action = $expire AND later.seq > history.seq);
                """);
            deleted += Delete(transaction, auditCutoff, """
                DELETE FROM history WHERE time <= $cutoff AND action = $expire
                  AND NOT EXISTS (SELECT 1 FROM history earlier WHERE earlier.device = history.device AND earlier.action <> $expire AND earlier.seq < history.seq);
                """);
            deleted += Delete(transaction, auditCutoff, "DELETE FROM history WHERE time <= $cutoff AND action = $erase;");
            transaction.Commit();
            if (expired.Count > 0)
            {
                Reload();
            }
            if (deleted > 0)
            {
                // As after an erasure: the deleted rows' old pages should not linger in the write-ahead log.
                Execute("PRAGMA wal_checkpoint(TRUNCATE);");
            }
            outcome = new RetentionOutcome(now, expired.Count, deleted, complete, 0);
        }
        var removed = 0;
        foreach (var device in expired)
        {
            try
            {
                // The device's choices now (a choice recorded since the pass counts: its outputs are not removed).
                removed += _waiting is null ? 0 : await _waiting.RemoveRefusedAsync(device, Current.Of(device), cancellationToken);
            }
            catch (Exception e) when (e is SqliteException or IOException or InvalidDataException)
            {
                // The expiry stands (the gates refuse from now on); the waiting outputs are left to their own retention.
                removed = ChoiceOutcome.WaitingOutputsUnreachable;
                break;
            }
        }
        return outcome with { RemovedWaitingOutputs = removed };
    }

    /// <summary>The most devices one retention pass ends the records of.</summary>
    internal const int MaxExpiriesPerPass = 10_000;

    private int Delete(SqliteTransaction transaction, long cutoff, string sql)
    {
        using var delete = _connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = sql;
        delete.Parameters.AddWithValue("$cutoff", cutoff);
        delete.Parameters.AddWithValue("$expire", ChoiceIds.Expire);
        delete.Parameters.AddWithValue("$erase", ChoiceIds.Erase);
        return delete.ExecuteNonQuery();
    }

    /// <summary>The audit entries of erasures: time, the erased device's pseudonym, actor and source.</summary>
    public IReadOnlyList<(DateTimeOffset Time, string Pseudonym, string Actor, string Source)> Erasures()
    {
        var erasures = new List<(DateTimeOffset, string, string, string)>();
        lock (_lock)
        {
            using var select = _connection.CreateCommand();
            select.CommandText = "SELECT time, pseudonym, actor, source FROM history WHERE action = $erase ORDER BY seq;";
            select.Parameters.AddWithValue("$erase", ChoiceIds.Erase);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                erasures.Add((FromMilliseconds(reader.GetInt64(0)), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
        }
        return erasures;
    }

    /// <summary>The keyed pseudonym of <paramref name="device"/> under the current key, as outputs carry it.</summary>
    public string PseudonymOf(string device) => Pseudonymizer.Of(_key, device);

    /// <summary>Reads the history again when another process changed it (true: the snapshot was replaced).</summary>
    public bool Refresh()
    {
        lock (_lock)
        {
            // data_version changes only for commits of other connections (SQLite documentation).
            var version = Scalar("PRAGMA data_version;");
            if (version == _dataVersion)
            {
                return false;
            }
            Reload();
            ForgetErasedElsewhere();
            return true;
        }
    }

    // Erasures another process recorded (the consent verb while the gateway runs) name the device by its pseudonym
    // only: the memory forgets the devices whose pseudonym it is.
    private void ForgetErasedElsewhere()
    {
        if (_memory is null)
        {
            return;
        }
        var pseudonyms = new HashSet<string>(StringComparer.Ordinal);
        using (var select = _connection.CreateCommand())
        {
            select.CommandText = "SELECT seq, pseudonym FROM history WHERE action = $erase AND seq > $after ORDER BY seq;";
            select.Parameters.AddWithValue("$erase", ChoiceIds.Erase);
            select.Parameters.AddWithValue("$after", _lastErasure);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                _lastErasure = reader.GetInt64(0);
                pseudonyms.Add(reader.GetString(1));
            }
        }
        if (pseudonyms.Count > 0)
        {
            _memory.ForgetWhere(device => pseudonyms.Contains(PseudonymOf(device)));
        }
    }

    private void Reload()
    {
        lock (_lock)
        {
            var devices = new Dictionary<string, DeviceChoices>(StringComparer.Ordinal);
            using (var select = _connection.CreateCommand())
            {
                select.CommandText = "SELECT seq, time, device, action, purposes, all_legitimate_interest, notice_version, actor, source FROM history WHERE device <> '' ORDER BY seq;";
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    if (reader.GetString(3) == ChoiceIds.Expire)
                    {
                        // The retention ended the device's records: what came before is history only.
                        devices.Remove(reader.GetString(2));
                    }
                    else if (ReadRecord(reader) is { } record)
                    {
                        var device = record.Request.Device;
                        devices[device] = devices.GetValueOrDefault(device, DeviceChoices.None).Apply(record.Request);
                    }
                }
            }
            _dataVersion = Scalar("PRAGMA data_version;");
            Volatile.Write(ref _current, ChoicesSnapshot.Of(devices));
        }
    }

    /// <summary>A history row as a record; null for a row this version cannot read (it is kept, never rewritten).</summary>
    private static ChoiceRecord? ReadRecord(SqliteDataReader reader)
    {
        if (!ChoiceIds.TryParseAction(reader.GetString(3), out var action) || !ChoiceIds.TryParseSource(reader.GetString(8), out var source))
        {
            return null;
        }
        var purposes = PurposeSet.Empty;
        foreach (var id in reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!PrivacyVocabulary.TryParsePurpose(id, out var purpose))
            {
                return null;
            }
            purposes = purposes.With(purpose);
        }
        var request = new ChoiceRequest(reader.GetString(2), action, purposes, reader.GetInt64(5) != 0, reader.GetString(6), reader.GetString(7), source);
        return new ChoiceRecord(reader.GetInt64(0), FromMilliseconds(reader.GetInt64(1)), request);
    }

    private long Append(
        DateTimeOffset time, string device, string action, PurposeSet purposes, bool allLegitimateInterest, string noticeVersion, string actor,
        string source, string pseudonym, SqliteTransaction? transaction = null)
    {
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO history (time, device, action, purposes, all_legitimate_interest, notice_version, actor, source, pseudonym)
            VALUES ($time, $device, $action, $purposes, $all, $notice, $actor, $source, $pseudonym) RETURNING seq;
            """;
        insert.Parameters.AddWithValue("$time", time.ToUnixTimeMilliseconds());
        insert.Parameters.AddWithValue("$device", device);
        insert.Parameters.AddWithValue("$action", action);
        insert.Parameters.AddWithValue("$purposes", purposes.ToString());
        insert.Parameters.AddWithValue("$all", allLegitimateInterest ? 1 : 0);
        insert.Parameters.AddWithValue("$notice", noticeVersion);
        insert.Parameters.AddWithValue("$actor", actor);
        insert.Parameters.AddWithValue("$source", source);
        insert.Parameters.AddWithValue("$pseudonym", pseudonym);
        return Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset FromMilliseconds(long milliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private long Scalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _connection.Dispose();
        }
    }
}

/// <summary>
/// What a retention pass did: when it ran, how many devices' records it ended, how many history entries it deleted,
/// whether it reached every device due (false: more than <see cref="ChoiceRegistry.MaxExpiriesPerPass"/>), and how many
/// waiting outputs it removed (-1: the outbox could not be reached).
/// </summary>
internal sealed record RetentionOutcome(DateTimeOffset Time, int ExpiredDevices, int DeletedEntries, bool Complete, int RemovedWaitingOutputs);
