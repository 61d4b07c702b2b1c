using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Storage;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Outbox;

/// <summary>
/// The durable outbox: outputs accepted from devices wait here until the upstream acknowledges them. SQLite in WAL
/// mode in the data directory, so it survives restarts, crashes and upstream outages. One supervised writer task commits
/// appends in groups (many devices' messages per transaction), applies acknowledgements, moves rejected outputs to the
/// dead letters and drops outputs past their retention; an exception fails only the batch it was writing, and a full
/// disk fails appends until space returns, without any other intervention. The drainer reads on its own connection.
/// Bounded: past the limits the oldest outputs are dropped, counted and logged without payloads. Delivery order is
/// insertion order, so each device's outputs drain in the order they were accepted. Each output names its destination
/// (the region of the upstream it goes to, notice §7); each destination's drainer reads only its own outputs, and counts
/// and wake-ups are kept per destination, so an upstream that is down holds back only what waits for it.
/// </summary>
internal sealed partial class SqliteOutbox : IAsyncDisposable
{
    public const string FileName = "outbox.db";

    /// <summary>The table layout this code reads and writes (SQLite's user_version); versions 1 to 3 are upgraded in place.</summary>
    internal const int FormatVersion = 4;

    private const int SqliteFull = 13;

    private readonly OutboxOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SqliteConnection _writer;
    private readonly SqliteConnection _reader;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _deleteRange;
    private readonly SqliteCommand _dropOldest;
    private readonly SqliteCommand _deadLetter;
    private readonly SqliteCommand _read;
    private readonly SqliteCommand _readDestination;
    private readonly SqliteCommand _lastSequence;
    private readonly SqliteCommand _oldestSequence;
    // When outputs were appended, as (last sequence of the batches of one second, Unix ms): the oldest waiting output's
    // age at a scrape, without a column in the file. Outputs stored by an earlier run count from this one's start.
    private readonly Queue<(long LastSequence, long AppendedAt)> _appendTimes = new();
    private (long LastSequence, long AppendedAt) _newestAppend;
    private readonly DateTimeOffset _openedAt;
    private readonly long _sequenceAtOpen;
    private readonly Lock _readerLock = new();
    private readonly Channel<WriteRequest> _requests = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(16_384)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Task _writeLoop;
    private readonly Task _maintenanceLoop;
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _dataAvailable = new(0);
    // Per destination: outputs waiting, and a wake-up for its drainer (made on first use; a handful of regions).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<long>> _waiting = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _destinationData = new(StringComparer.Ordinal);
    private long _count;
    private long _bytes;
    // Recalls (the data subject's rights removing waiting outputs on another connection): how many began, and the
    // lock a recall holds until its removal is committed, which the drainer takes to check an output again.
    private long _recalls;
    private readonly SemaphoreSlim _recall = new(1, 1);
    private readonly SqliteCommand _stored;
    private long _dropped;
    private long _expired;
    private long _deadLettered;
    private long _failedBatches;
    private long _dataVersion;
    private bool _diskFull;

    private SqliteOutbox(string path, OutboxOptions options, ILogger logger, TimeProvider time, string earlierDestination)
    {
        _options = options;
        _logger = logger;
        _time = time;
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 5 }.ToString();
        _writer = new SqliteConnection(connectionString);
        _writer.Open();
        Execute(_writer, "PRAGMA journal_mode=WAL;");
        Execute(_writer, $"PRAGMA synchronous={(options.Synchronous == "full" ? "FULL" : "NORMAL")};");
        Execute(_writer, "PRAGMA temp_store=MEMORY;");
        Execute(_writer, "PRAGMA busy_timeout=5000;");
        var existing = CheckFormat(_writer);
        Execute(_writer, """
            CREATE TABLE IF NOT EXISTS outbox (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              record BLOB NOT NULL,
              expires_at INTEGER NOT NULL DEFAULT 0,
              device TEXT NOT NULL DEFAULT '',
              purpose TEXT NOT NULL DEFAULT '',
              legal_basis TEXT NOT NULL DEFAULT '',
              destination TEXT NOT NULL DEFAULT ''
            );
            CREATE TABLE IF NOT EXISTS dead_letters (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              time INTEGER NOT NULL,
              reason TEXT NOT NULL,
              stream TEXT NOT NULL,
              purpose TEXT NOT NULL,
              size INTEGER NOT NULL,
              expires_at INTEGER NOT NULL DEFAULT 0,
              record BLOB,
              device TEXT NOT NULL DEFAULT '',
              legal_basis TEXT NOT NULL DEFAULT '',
              destination TEXT NOT NULL DEFAULT ''
            );
            """);
        if (existing == 1)
        {
            // Format 1 had no retention column: its outputs are kept until delivered, as they were promised.
            Execute(_writer, "ALTER TABLE outbox ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;");
        }
        if (existing is 1 or 2)
        {
            // Format 3 names each output's device, purpose and legal basis, so the data subject's rights reach outputs
            // still waiting. Outputs stored by an earlier format have none; they drain as before.
            // (A format 1 file had no dead letters table: it was just created with every column.)
            foreach (var (table, column) in new[] { ("outbox", "device"), ("outbox", "purpose"), ("outbox", "legal_basis"), ("dead_letters", "device"), ("dead_letters", "legal_basis") })
            {
                if (Scalar(_writer, $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = '{column}';") == 0)
                {
                    Execute(_writer, $"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT '';");
                }
            }
        }
        if (existing is 1 or 2 or 3)
        {
            // Format 4 names each output's destination (the region of its upstream). Outputs stored before were all
            // headed to the one upstream there was, which is the upstream of the site's region.
            foreach (var table in new[] { "outbox", "dead_letters" })
            {
                if (Scalar(_writer, $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = 'destination';") == 0)
                {
                    Execute(_writer, $"ALTER TABLE {table} ADD COLUMN destination TEXT NOT NULL DEFAULT '';");
                }
                using var assign = _writer.CreateCommand();
                assign.CommandText = $"UPDATE {table} SET destination = $destination WHERE destination = '';";
                assign.Parameters.AddWithValue("$destination", earlierDestination);
                assign.ExecuteNonQuery();
            }
        }
        Execute(_writer, "CREATE INDEX IF NOT EXISTS outbox_destination ON outbox (destination, seq);");
        Execute(_writer, "CREATE INDEX IF NOT EXISTS outbox_device ON outbox (device) WHERE device <> '';");
        Execute(_writer, "CREATE INDEX IF NOT EXISTS dead_letters_device ON dead_letters (device) WHERE device <> '';");
        Execute(_writer, $"PRAGMA user_version={FormatVersion};");
        if (options.MaxFileBytes > 0)
        {
            // A hard bound on the file: past it SQLite reports "database or disk is full", handled like a full disk.
            var pageSize = Scalar(_writer, "PRAGMA page_size;");
            Execute(_writer, $"PRAGMA max_page_count={Math.Max(1, options.MaxFileBytes / pageSize)};");
        }
        Recount();
        _insert = Prepare(
            _writer,
            "INSERT INTO outbox (record, expires_at, device, purpose, legal_basis, destination) VALUES ($record, $expires, $device, $purpose, $basis, $destination);",
            "$record", "$expires", "$device", "$purpose", "$basis", "$destination");
        _deleteRange = Prepare(_writer, "DELETE FROM outbox WHERE seq BETWEEN $first AND $last RETURNING LENGTH(record), destination;", "$first", "$last");
        _dropOldest = Prepare(_writer, "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox) RETURNING LENGTH(record), destination;");
        _deadLetter = Prepare(
            _writer,
            "INSERT INTO dead_letters (time, reason, stream, purpose, size, expires_at, record, device, legal_basis, destination) "
                + "VALUES ($time, $reason, $stream, $purpose, $size, $expires, $record, $device, $basis, $destination);",
            "$time", "$reason", "$stream", "$purpose", "$size", "$expires", "$record", "$device", "$basis", "$destination");
        _reader = new SqliteConnection(connectionString);
        _reader.Open();
        _read = Prepare(_reader, "SELECT seq, record, expires_at FROM outbox WHERE seq > $after ORDER BY seq LIMIT $max;", "$after", "$max");
        _readDestination = Prepare(
            _reader, "SELECT seq, record, expires_at FROM outbox WHERE destination = $destination AND seq > $after ORDER BY seq LIMIT $max;",
            "$after", "$max", "$destination");
        _lastSequence = Prepare(_writer, "SELECT last_insert_rowid();");
        _stored = Prepare(_reader, "SELECT EXISTS (SELECT 1 FROM outbox WHERE seq = $seq);", "$seq");
        _oldestSequence = Prepare(_reader, "SELECT MIN(seq) FROM outbox;");
        _openedAt = time.GetUtcNow();
        _sequenceAtOpen = Scalar(_writer, "SELECT IFNULL(MAX(seq), 0) FROM outbox;");
        _writeLoop = Task.Run(WriteLoopAsync);
        _maintenanceLoop = Task.Run(MaintenanceLoopAsync);
        if (_count > 0)
        {
            _dataAvailable.Release();
        }
        foreach (var (destination, waiting) in _waiting)
        {
            if (waiting.Value > 0)
            {
                SignalData(destination);
            }
        }
    }

    /// <summary>Outputs stored and not yet acknowledged.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Outputs stored for <paramref name="destination"/> (the region of an upstream) and not yet acknowledged.</summary>
    public long CountFor(string destination) => _waiting.TryGetValue(destination, out var count) ? Interlocked.Read(ref count.Value) : 0;

    private void AddWaiting(string destination, long delta)
    {
        var count = _waiting.GetOrAdd(destination, static _ => new StrongBox<long>());
        Interlocked.Add(ref count.Value, delta);
    }

    private void SignalData(string destination)
    {
        var available = _destinationData.GetOrAdd(destination, static _ => new SemaphoreSlim(0));
        if (available.CurrentCount == 0)
        {
            available.Release();
        }
    }

    /// <summary>Bytes of the outputs stored (payloads with their topic and tags).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The limits it drops the oldest outputs past.</summary>
    public OutboxOptions Limits => _options;

    /// <summary>Its writer runs and the disk took the last batch: an output handed over now is stored.</summary>
    public bool IsWritable => !_writeLoop.IsCompleted && !Volatile.Read(ref _diskFull);

    /// <summary>
    /// How long the oldest output still stored has waited (zero when none waits), to the second; one stored by an earlier
    /// run counts from this run's start. Reads the lowest sequence (an index lookup): for scrapes, not the hot path.
    /// </summary>
    public TimeSpan OldestAge()
    {
        if (Count <= 0)
        {
            return TimeSpan.Zero;
        }
        long oldest;
        lock (_readerLock)
        {
            if (_oldestSequence.ExecuteScalar() is not long sequence)
            {
                return TimeSpan.Zero;
            }
            oldest = sequence;
        }
        var appendedAt = _openedAt.ToUnixTimeMilliseconds();
        lock (_appendTimes)
        {
            while (_appendTimes.Count > 0 && _appendTimes.Peek().LastSequence < oldest)
            {
                _appendTimes.Dequeue();
            }
            if (oldest > _sequenceAtOpen)
            {
                if (_appendTimes.Count > 0)
                {
                    appendedAt = _appendTimes.Peek().AppendedAt;
                }
                else if (_newestAppend.LastSequence >= oldest)
                {
                    appendedAt = _newestAppend.AppendedAt;
                }
            }
        }
        var age = _time.GetUtcNow().ToUnixTimeMilliseconds() - appendedAt;
        return age > 0 ? TimeSpan.FromMilliseconds(age) : TimeSpan.Zero;
    }

    // Batches appended within one second share an entry, so a long outage costs bounded memory (86,400 entries a day).
    private void NoteAppended(long lastSequence, long appendedAt)
    {
        lock (_appendTimes)
        {
            if (_newestAppend.LastSequence > 0 && appendedAt - _newestAppend.AppendedAt < 1000)
            {
                _newestAppend = (lastSequence, _newestAppend.AppendedAt);
                return;
            }
            if (_newestAppend.LastSequence > 0)
            {
                _appendTimes.Enqueue(_newestAppend);
            }
            _newestAppend = (lastSequence, appendedAt);
        }
    }

    /// <summary>Outputs dropped because the outbox was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Outputs dropped because their retention ended while they waited (never sent late).</summary>
    public long Expired => Interlocked.Read(ref _expired);

    /// <summary>Outputs the upstream rejected, moved to the dead letters.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Write batches that failed (their requests were refused; the writer went on).</summary>
    public long FailedBatches => Interlocked.Read(ref _failedBatches);

    /// <summary>
    /// Opens (or creates) the outbox in <paramref name="dataDirectory"/>. <paramref name="earlierDestination"/> is the
    /// destination of outputs an earlier format stored without one: the site region's upstream, the only one there was.
    /// </summary>
    public static SqliteOutbox Open(string dataDirectory, OutboxOptions options, ILogger logger, TimeProvider? time = null, string earlierDestination = "")
    {
        PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        // SQLite creates the database 0644 under the usual umask, and its -wal and -shm files with the database's mode:
        // the database is created 0600 first, and files an earlier version left wider are narrowed.
        PrivateFiles.EnsureFile(path);
        PrivateFiles.Narrow(path + "-wal");
        PrivateFiles.Narrow(path + "-shm");
        return new SqliteOutbox(path, options, logger, time ?? TimeProvider.System, earlierDestination);
    }

    /// <summary>
    /// Stores <paramref name="messages"/>; the task completes once they are committed (durable), so the caller
    /// can acknowledge the device only then. Throws <see cref="OutboxUnavailableException"/> when they could not be
    /// stored, or not within <see cref="OutboxOptions.StoreTimeout"/>.
    /// </summary>
    public Task AppendAsync(IReadOnlyList<UpstreamMessage> messages, CancellationToken cancellationToken) =>
        SubmitAsync(new WriteRequest(RequestKind.Append) { Messages = messages }, cancellationToken);

    /// <summary>
    /// Records rejected outputs as dead letters (metadata, and the payload for <see cref="OutboxOptions.DeadLetterRetention"/>),
    /// removing them from the outbox when they came from it; completes once committed.
    /// </summary>
    public Task DeadLetterAsync(IReadOnlyList<DeadLetter> deadLetters, CancellationToken cancellationToken) =>
        SubmitAsync(new WriteRequest(RequestKind.DeadLetter) { DeadLetters = deadLetters }, cancellationToken);

    /// <summary>Removes acknowledged outputs (asynchronously: an acknowledged output delivered twice is still at least once).</summary>
    public ValueTask AcknowledgeAsync(IReadOnlyList<long> sequences, CancellationToken cancellationToken) =>
        _requests.Writer.WriteAsync(new WriteRequest(RequestKind.Acknowledge) { Sequences = sequences }, cancellationToken);

    /// <summary>Drops outputs whose retention ended before they could be sent (counted; asynchronously, like acknowledgements).</summary>
    public ValueTask ExpireAsync(IReadOnlyList<long> sequences, CancellationToken cancellationToken) =>
        _requests.Writer.WriteAsync(new WriteRequest(RequestKind.Expire) { Sequences = sequences }, cancellationToken);

    /// <summary>
    /// Housekeeping, also run every <see cref="OutboxOptions.MaintenanceInterval"/>: drops outputs past their retention,
    /// deletes dead letters' payloads past their retention, and recounts when another process changed the file (a replay).
    /// </summary>
    public Task MaintainAsync(CancellationToken cancellationToken) =>
        SubmitAsync(new WriteRequest(RequestKind.Maintain), cancellationToken);

    /// <summary>Up to <paramref name="max"/> stored outputs after <paramref name="afterSequence"/>, oldest first, whatever their destination.</summary>
    public List<StoredMessage> ReadAfter(long afterSequence, int max) => Read(_read, afterSequence, max, null);

    /// <summary>Up to <paramref name="max"/> outputs stored for <paramref name="destination"/> after <paramref name="afterSequence"/>, oldest first.</summary>
    public List<StoredMessage> ReadAfter(string destination, long afterSequence, int max) => Read(_readDestination, afterSequence, max, destination);

    private List<StoredMessage> Read(SqliteCommand command, long afterSequence, int max, string? destination)
    {
        var result = new List<StoredMessage>(Math.Min(max, 256));
        lock (_readerLock)
        {
            command.Parameters[0].Value = afterSequence;
            command.Parameters[1].Value = max;
            if (destination is not null)
            {
                command.Parameters[2].Value = destination;
            }
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var expiresAt = reader.GetInt64(2);
                result.Add(new StoredMessage(
                    reader.GetInt64(0), OutboxRecord.Decode((byte[])reader.GetValue(1)), expiresAt > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(expiresAt) : null));
            }
        }
        return result;
    }

    /// <summary>Recalls begun so far: when it changed since the drainer read a batch, the batch's outputs are checked again before they are sent.</summary>
    public long Recalls => Interlocked.Read(ref _recalls);

    /// <summary>
    /// Begins a recall (outputs removed on another connection for the data subject's rights): counted before anything is
    /// removed, and holding the lock the drainer checks under until the returned handle is disposed (after the commit).
    /// </summary>
    public async Task<IDisposable> BeginRecallAsync(CancellationToken cancellationToken)
    {
        await _recall.WaitAsync(cancellationToken);
        Interlocked.Increment(ref _recalls);
        return new RecallHandle(_recall);
    }

    /// <summary>
    /// Starts <paramref name="publish"/> only if output <paramref name="sequence"/> is still stored, checked once no
    /// recall is in progress; returns false (nothing started) when a recall removed it.
    /// </summary>
    public async Task<bool> PublishIfStillStoredAsync(long sequence, Action publish, CancellationToken cancellationToken)
    {
        await _recall.WaitAsync(cancellationToken);
        try
        {
            bool stored;
            lock (_readerLock)
            {
                _stored.Parameters[0].Value = sequence;
                stored = Convert.ToInt64(_stored.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
            }
            if (stored)
            {
                // Started under the lock: a recall that begins now finds the publish already under way.
                publish();
            }
            return stored;
        }
        finally
        {
            _recall.Release();
        }
    }

    private sealed class RecallHandle(SemaphoreSlim recall) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                recall.Release();
            }
        }
    }

    /// <summary>Waits until something was appended since the last wait, or the timeout passes.</summary>
    public Task<bool> WaitForDataAsync(TimeSpan timeout, CancellationToken cancellationToken) => _dataAvailable.WaitAsync(timeout, cancellationToken);

    /// <summary>Waits until something was appended for <paramref name="destination"/> since its last wait, or the timeout passes.</summary>
    public Task<bool> WaitForDataAsync(string destination, TimeSpan timeout, CancellationToken cancellationToken) =>
        _destinationData.GetOrAdd(destination, static _ => new SemaphoreSlim(0)).WaitAsync(timeout, cancellationToken);

    private async Task SubmitAsync(WriteRequest request, CancellationToken cancellationToken)
    {
        try
        {
            // Bounded twice: a full request queue and a slow commit both end in a refusal, never an endless wait.
            await _requests.Writer.WriteAsync(request, cancellationToken).AsTask().WaitAsync(_options.StoreTimeout, _time, cancellationToken);
            await request.Completion.Task.WaitAsync(_options.StoreTimeout, _time, cancellationToken);
        }
        catch (TimeoutException e)
        {
            LogStoreTimedOut(_logger, _options.StoreTimeout.TotalMilliseconds);
            throw new OutboxUnavailableException("The outbox did not store the message in time.", e);
        }
        catch (ChannelClosedException e)
        {
            throw new OutboxUnavailableException("The outbox is closed.", e);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<WriteRequest>();
        var removals = new List<WriteRequest>();
        var stores = new List<WriteRequest>();
        var reader = _requests.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            removals.Clear();
            stores.Clear();
            var messages = 0;
            while (messages < _options.MaxBatch && reader.TryRead(out var request))
            {
                batch.Add(request);
                messages += request.Size;
            }
            foreach (var request in batch)
            {
                (request.Kind is RequestKind.Acknowledge or RequestKind.Expire or RequestKind.Maintain ? removals : stores).Add(request);
            }
            // Removals first and on their own: they free space, so a full disk never keeps acknowledged outputs stored.
            Run(removals, CommitRemovals);
            Run(stores, CommitStores);
        }
    }

    /// <summary>Commits one group of requests; whatever goes wrong fails only these requests, and the writer goes on.</summary>
    private void Run(List<WriteRequest> requests, Action<List<WriteRequest>> commit)
    {
        if (requests.Count == 0)
        {
            return;
        }
        try
        {
            commit(requests);
            foreach (var request in requests)
            {
                request.Completion.TrySetResult();
            }
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _failedBatches);
            if (e is SqliteException { SqliteErrorCode: SqliteFull })
            {
                if (!_diskFull)
                {
                    _diskFull = true;
                    LogDiskFull(_logger, requests.Count);
                }
            }
            else
            {
                LogWriteFailed(_logger, e.GetType().Name, requests.Count);
            }
            foreach (var request in requests)
            {
                request.Completion.TrySetException(new OutboxUnavailableException("The outbox could not store the message.", e));
            }
        }
    }

    private void CommitRemovals(List<WriteRequest> requests)
    {
        long countDelta = 0;
        long bytesDelta = 0;
        long expired = 0;
        var maintain = false;
        using (var transaction = _writer.BeginTransaction())
        {
            _deleteRange.Transaction = transaction;
            foreach (var request in requests)
            {
                if (request.Kind == RequestKind.Maintain)
                {
                    maintain = true;
                    continue;
                }
                long removed = 0;
                foreach (var (first, last) in Ranges(request.Sequences!))
                {
                    _deleteRange.Parameters[0].Value = first;
                    _deleteRange.Parameters[1].Value = last;
                    using var deleted = _deleteRange.ExecuteReader();
                    while (deleted.Read())
                    {
                        removed++;
                        bytesDelta -= deleted.GetInt64(0);
                        AddWaiting(deleted.GetString(1), -1);
                    }
                }
                countDelta -= removed;
                if (request.Kind == RequestKind.Expire)
                {
                    expired += removed;
                }
            }
            if (maintain)
            {
                (var maintainedCount, var maintainedBytes) = Maintain(transaction);
                expired += maintainedCount;
                countDelta -= maintainedCount;
                bytesDelta -= maintainedBytes;
            }
            transaction.Commit();
        }
        Interlocked.Add(ref _count, countDelta);
        Interlocked.Add(ref _bytes, bytesDelta);
        if (expired > 0)
        {
            Interlocked.Add(ref _expired, expired);
            LogExpired(_logger, expired);
        }
        if (maintain)
        {
            RecountIfChangedElsewhere();
        }
    }

    /// <summary>Drops expired outputs and old dead-letter payloads; returns the outputs dropped and their bytes.</summary>
    private (long Count, long Bytes) Maintain(SqliteTransaction transaction)
    {
        var now = _time.GetUtcNow();
        long count = 0;
        long bytes = 0;
        using (var expire = _writer.CreateCommand())
        {
            expire.Transaction = transaction;
            expire.CommandText = "DELETE FROM outbox WHERE expires_at BETWEEN 1 AND $now RETURNING LENGTH(record), destination;";
            expire.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            using var deleted = expire.ExecuteReader();
            while (deleted.Read())
            {
                count++;
                bytes += deleted.GetInt64(0);
                AddWaiting(deleted.GetString(1), -1);
            }
        }
        using (var forget = _writer.CreateCommand())
        {
            forget.Transaction = transaction;
            forget.CommandText = """
                UPDATE dead_letters SET record = NULL WHERE record IS NOT NULL AND time <= $cutoff;
                DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - $max;
                """;
            forget.Parameters.AddWithValue("$cutoff", (now - _options.DeadLetterRetention).ToUnixTimeMilliseconds());
            forget.Parameters.AddWithValue("$max", _options.MaxDeadLetters);
            forget.ExecuteNonQuery();
        }
        return (count, bytes);
    }

    /// <summary>A replay by the CLI inserts from another process: the counts are read again when the file changed elsewhere.</summary>
    private void RecountIfChangedElsewhere()
    {
        // data_version changes only for commits of other connections (SQLite documentation), never for the writer's own.
        var version = Scalar(_writer, "PRAGMA data_version;");
        if (Interlocked.Exchange(ref _dataVersion, version) == version)
        {
            return;
        }
        Recount();
        if (Count > 0 && _dataAvailable.CurrentCount == 0)
        {
            _dataAvailable.Release();
        }
        foreach (var (destination, waiting) in _waiting)
        {
            if (Interlocked.Read(ref waiting.Value) > 0)
            {
                SignalData(destination);
            }
        }
    }

    private void Recount()
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "SELECT COUNT(*), COALESCE(SUM(LENGTH(record)), 0) FROM outbox;";
        using var reader = command.ExecuteReader();
        reader.Read();
        Interlocked.Exchange(ref _count, reader.GetInt64(0));
        Interlocked.Exchange(ref _bytes, reader.GetInt64(1));
        reader.Close();
        command.CommandText = "SELECT destination, COUNT(*) FROM outbox GROUP BY destination;";
        var counted = new HashSet<string>(StringComparer.Ordinal);
        using var perDestination = command.ExecuteReader();
        while (perDestination.Read())
        {
            var destination = perDestination.GetString(0);
            counted.Add(destination);
            Interlocked.Exchange(ref _waiting.GetOrAdd(destination, static _ => new StrongBox<long>()).Value, perDestination.GetInt64(1));
        }
        foreach (var (destination, waiting) in _waiting)
        {
            if (!counted.Contains(destination))
            {
                Interlocked.Exchange(ref waiting.Value, 0);
            }
        }
    }

    private void CommitStores(List<WriteRequest> requests)
    {
        var appended = false;
        HashSet<string>? appendedFor = null;
        long countDelta = 0;
        long bytesDelta = 0;
        long deadLettered = 0;
        var now = _time.GetUtcNow();
        using (var transaction = _writer.BeginTransaction())
        {
            _insert.Transaction = transaction;
            _deleteRange.Transaction = transaction;
            _dropOldest.Transaction = transaction;
            _deadLetter.Transaction = transaction;
            _lastSequence.Transaction = transaction;
            foreach (var request in requests)
            {
                if (request.Kind == RequestKind.Append)
                {
                    foreach (var message in request.Messages!)
                    {
                        var record = OutboxRecord.Encode(message);
                        _insert.Parameters[0].Value = record;
                        _insert.Parameters[1].Value = ExpiresAt(message, now);
                        _insert.Parameters[2].Value = message.Device;
                        _insert.Parameters[3].Value = message.Purpose;
                        _insert.Parameters[4].Value = message.LegalBasis;
                        _insert.Parameters[5].Value = message.Region;
                        _insert.ExecuteNonQuery();
                        (appendedFor ??= new HashSet<string>(StringComparer.Ordinal)).Add(message.Region);
                        countDelta++;
                        bytesDelta += record.Length;
                        appended = true;
                    }
                    continue;
                }
                foreach (var deadLetter in request.DeadLetters!)
                {
                    if (deadLetter.Sequence is { } sequence)
                    {
                        _deleteRange.Parameters[0].Value = sequence;
                        _deleteRange.Parameters[1].Value = sequence;
                        using var deleted = _deleteRange.ExecuteReader();
                        if (!deleted.Read())
                        {
                            // Already gone (acknowledged after all, or expired): nothing to keep.
                            continue;
                        }
                        countDelta--;
                        bytesDelta -= deleted.GetInt64(0);
                        AddWaiting(deleted.GetString(1), -1);
                    }
                    var message = deadLetter.Message;
                    _deadLetter.Parameters[0].Value = now.ToUnixTimeMilliseconds();
                    _deadLetter.Parameters[1].Value = deadLetter.Reason;
                    _deadLetter.Parameters[2].Value = message.Stream;
                    _deadLetter.Parameters[3].Value = message.Purpose;
                    _deadLetter.Parameters[4].Value = message.Payload.Length;
                    _deadLetter.Parameters[5].Value = deadLetter.ExpiresAt?.ToUnixTimeMilliseconds() ?? ExpiresAt(message, now);
                    _deadLetter.Parameters[6].Value = OutboxRecord.Encode(message);
                    _deadLetter.Parameters[7].Value = message.Device;
                    _deadLetter.Parameters[8].Value = message.LegalBasis;
                    _deadLetter.Parameters[9].Value = message.Region;
                    _deadLetter.ExecuteNonQuery();
                    deadLettered++;
                }
            }
            var count = Count + countDelta;
            var bytes = Interlocked.Read(ref _bytes) + bytesDelta;
            if (count > _options.MaxMessages || bytes > _options.MaxBytes)
            {
                var (droppedCount, droppedBytes) = DropOldest(count, bytes);
                countDelta -= droppedCount;
                bytesDelta -= droppedBytes;
            }
            var lastSequence = appended ? (long)_lastSequence.ExecuteScalar()! : 0;
            transaction.Commit();
            if (appended)
            {
                NoteAppended(lastSequence, now.ToUnixTimeMilliseconds());
            }
        }
        if (appendedFor is not null)
        {
            foreach (var request in requests)
            {
                if (request.Kind == RequestKind.Append)
                {
                    foreach (var message in request.Messages!)
                    {
                        AddWaiting(message.Region, 1);
                    }
                }
            }
        }
        Interlocked.Add(ref _count, countDelta);
        Interlocked.Add(ref _bytes, bytesDelta);
        Interlocked.Add(ref _deadLettered, deadLettered);
        if (appended && _diskFull)
        {
            _diskFull = false;
            LogRecovered(_logger);
        }
        if (appended && _dataAvailable.CurrentCount == 0)
        {
            _dataAvailable.Release();
        }
        foreach (var destination in appendedFor ?? [])
        {
            SignalData(destination);
        }
    }

    private static long ExpiresAt(UpstreamMessage message, DateTimeOffset now) =>
        message.ExpirySeconds > 0 ? (now + TimeSpan.FromSeconds(message.ExpirySeconds)).ToUnixTimeMilliseconds() : 0;

    /// <summary>Acknowledged sequences as contiguous ranges: acknowledgements mostly come in order, so few statements.</summary>
    private static IEnumerable<(long First, long Last)> Ranges(IReadOnlyList<long> sequences)
    {
        if (sequences.Count == 0)
        {
            yield break;
        }
        var sorted = sequences.Order().ToArray();
        var first = sorted[0];
        var last = first;
        for (var i = 1; i < sorted.Length; i++)
        {
            if (sorted[i] != last + 1)
            {
                yield return (first, last);
                first = sorted[i];
            }
            last = sorted[i];
        }
        yield return (first, last);
    }

    private (long Count, long Bytes) DropOldest(long count, long bytes)
    {
        long dropped = 0;
        long droppedBytes = 0;
        while (count - dropped > _options.MaxMessages || bytes - droppedBytes > _options.MaxBytes)
        {
            using var deleted = _dropOldest.ExecuteReader();
            if (!deleted.Read())
            {
                break;
            }
            droppedBytes += deleted.GetInt64(0);
            AddWaiting(deleted.GetString(1), -1);
            dropped++;
        }
        Interlocked.Add(ref _dropped, dropped);
        LogDropped(_logger, dropped, _options.MaxMessages, _options.MaxBytes);
        return (dropped, droppedBytes);
    }

    private async Task MaintenanceLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.MaintenanceInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_closing.Token))
            {
                try
                {
                    await MaintainAsync(_closing.Token);
                }
                catch (OutboxUnavailableException)
                {
                    // Logged by the writer; the next tick tries again.
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _maintenanceLoop;
        _requests.Writer.TryComplete();
        await _writeLoop;
        lock (_readerLock)
        {
            _read.Dispose();
            _readDestination.Dispose();
            _stored.Dispose();
            _oldestSequence.Dispose();
            _reader.Dispose();
        }
        _insert.Dispose();
        _lastSequence.Dispose();
        _deleteRange.Dispose();
        _dropOldest.Dispose();
        _deadLetter.Dispose();
        _writer.Dispose();
        _dataAvailable.Dispose();
        _recall.Dispose();
        foreach (var available in _destinationData.Values)
        {
            available.Dispose();
        }
        _closing.Dispose();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, params ReadOnlySpan<string> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        return command;
    }

    /// <summary>
    /// Refuses an outbox written in a layout this version does not know, rather than misreading it; returns the format
    /// of an existing outbox (0: a new file).
    /// </summary>
    private static long CheckFormat(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT user_version FROM pragma_user_version), EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'outbox');";
        using var reader = command.ExecuteReader();
        reader.Read();
        if (reader.GetInt64(1) == 0)
        {
            return 0;
        }
        var format = reader.GetInt64(0);
        if (format is not (1 or 2 or 3 or FormatVersion))
        {
            throw new OutboxUnavailableException($"The outbox has format {format}; this gateway reads formats 1 to {FormatVersion}.", null);
        }
        return format;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private enum RequestKind
    {
        Append,
        Acknowledge,
        Expire,
        DeadLetter,
        Maintain,
    }

    private sealed class WriteRequest(RequestKind kind)
    {
        public RequestKind Kind { get; } = kind;
        public IReadOnlyList<UpstreamMessage>? Messages { get; init; }
        public IReadOnlyList<long>? Sequences { get; init; }
        public IReadOnlyList<DeadLetter>? DeadLetters { get; init; }
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Size => Messages?.Count ?? DeadLetters?.Count ?? 1;
    }

    [LoggerMessage(EventId = EventIds.OutboxFull, Level = LogLevel.Warning, Message = "Outbox full: dropped the {Dropped} oldest outputs (limits: {MaxMessages} outputs, {MaxBytes} bytes)")]
    private static partial void LogDropped(ILogger logger, long dropped, long maxMessages, long maxBytes);

    [LoggerMessage(EventId = EventIds.OutboxWriteFailed, Level = LogLevel.Error, Message = "Outbox write failed ({Error}); {Requests} requests not stored, their devices are not acknowledged; the writer goes on")]
    private static partial void LogWriteFailed(ILogger logger, string error, int requests);

    [LoggerMessage(EventId = EventIds.OutboxDiskFull, Level = LogLevel.Error, Message = "Outbox disk full: {Requests} requests not stored, their devices are not acknowledged and will resend; "
        + "storing resumes by itself when space returns")]
    private static partial void LogDiskFull(ILogger logger, int requests);

    [LoggerMessage(EventId = EventIds.OutboxRecovered, Level = LogLevel.Information, Message = "Outbox storing again after the disk was full")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(EventId = EventIds.OutboxStoreTimedOut, Level = LogLevel.Error, Message = "Outbox did not store a request within {TimeoutMs} ms; it is refused (the device is not acknowledged)")]
    private static partial void LogStoreTimedOut(ILogger logger, double timeoutMs);

    [LoggerMessage(EventId = EventIds.RetentionExpired, Level = LogLevel.Warning, Message = "{Expired} outputs reached the end of their retention while waiting in the outbox; dropped, not sent late")]
    private static partial void LogExpired(ILogger logger, long expired);
}

/// <summary>
/// An output the upstream rejected: from the outbox (<paramref name="Sequence"/>, removed from it when recorded) or
/// from a direct publish (no sequence), with the reason id.
/// </summary>
internal sealed record DeadLetter(long? Sequence, UpstreamMessage Message, string Reason, DateTimeOffset? ExpiresAt = null);

/// <summary>The outbox could not store a message; the device must not be acknowledged.</summary>
public sealed class OutboxUnavailableException(string message, Exception? inner) : Exception(message, inner);
