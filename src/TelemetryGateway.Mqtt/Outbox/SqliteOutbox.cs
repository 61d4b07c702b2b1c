using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Storage;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Outbox;

/// <summary>
/// The durable outbox: outputs accepted from devices wait here until the upstream acknowledges them. SQLite in WAL
/// mode in the data directory, so it survives restarts, crashes and upstream outages. One writer task commits appends
/// in groups (many devices' messages per transaction) and applies acknowledgements; the drainer reads on its own
/// connection. Bounded: past the limits the oldest outputs are dropped, counted and logged without payloads.
/// Delivery order is insertion order, so each device's outputs drain in the order they were accepted.
/// </summary>
internal sealed partial class SqliteOutbox : IAsyncDisposable
{
    public const string FileName = "outbox.db";

    /// <summary>The table layout this code reads and writes (SQLite's user_version).</summary>
    private const int FormatVersion = 1;

    private readonly OutboxOptions _options;
    private readonly ILogger _logger;
    private readonly SqliteConnection _writer;
    private readonly SqliteConnection _reader;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _deleteRange;
    private readonly SqliteCommand _dropOldest;
    private readonly SqliteCommand _read;
    private readonly Lock _readerLock = new();
    private readonly Channel<WriteRequest> _requests = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(16_384)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Task _writeLoop;
    private readonly SemaphoreSlim _dataAvailable = new(0);
    private long _count;
    private long _bytes;
    private long _dropped;

    private SqliteOutbox(string path, OutboxOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        _writer = new SqliteConnection(connectionString);
        _writer.Open();
        Execute(_writer, "PRAGMA journal_mode=WAL;");
        Execute(_writer, $"PRAGMA synchronous={(options.Synchronous == "full" ? "FULL" : "NORMAL")};");
        Execute(_writer, "PRAGMA temp_store=MEMORY;");
        CheckFormat(_writer);
        Execute(_writer, """
            CREATE TABLE IF NOT EXISTS outbox (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              record BLOB NOT NULL
            );
            """);
        Execute(_writer, $"PRAGMA user_version={FormatVersion};");
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = "SELECT COUNT(*), COALESCE(SUM(LENGTH(record)), 0) FROM outbox;";
            using var reader = command.ExecuteReader();
            reader.Read();
            _count = reader.GetInt64(0);
            _bytes = reader.GetInt64(1);
        }
        _insert = Prepare(_writer, "INSERT INTO outbox (record) VALUES ($record);", "$record");
        _deleteRange = Prepare(_writer, "DELETE FROM outbox WHERE seq BETWEEN $first AND $last RETURNING LENGTH(record);", "$first", "$last");
        _dropOldest = Prepare(_writer, "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox) RETURNING LENGTH(record);");
        _reader = new SqliteConnection(connectionString);
        _reader.Open();
        _read = Prepare(_reader, "SELECT seq, record FROM outbox WHERE seq > $after ORDER BY seq LIMIT $max;", "$after", "$max");
        _writeLoop = Task.Run(WriteLoopAsync);
        if (_count > 0)
        {
            _dataAvailable.Release();
        }
    }

    /// <summary>Outputs stored and not yet acknowledged.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Outputs dropped because the outbox was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public static SqliteOutbox Open(string dataDirectory, OutboxOptions options, ILogger logger)
    {
        PrivateFiles.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        // SQLite creates the database 0644 under the usual umask, and its -wal and -shm files with the database's mode:
        // the database is created 0600 first, and files an earlier version left wider are narrowed.
        PrivateFiles.EnsureFile(path);
        PrivateFiles.Narrow(path + "-wal");
        PrivateFiles.Narrow(path + "-shm");
        return new SqliteOutbox(path, options, logger);
    }

    /// <summary>
    /// Stores <paramref name="messages"/>; the task completes once they are committed (durable), so the caller
    /// can acknowledge the device only then.
    /// </summary>
    public async Task AppendAsync(IReadOnlyList<UpstreamMessage> messages, CancellationToken cancellationToken)
    {
        var request = new WriteRequest(messages, null);
        await _requests.Writer.WriteAsync(request, cancellationToken);
        await request.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Removes acknowledged outputs (asynchronously: an acknowledged output delivered twice is still at least once).</summary>
    public ValueTask AcknowledgeAsync(IReadOnlyList<long> sequences, CancellationToken cancellationToken) =>
        _requests.Writer.WriteAsync(new WriteRequest(null, sequences), cancellationToken);

    /// <summary>Up to <paramref name="max"/> stored outputs after <paramref name="afterSequence"/>, oldest first.</summary>
    public List<StoredMessage> ReadAfter(long afterSequence, int max)
    {
        var result = new List<StoredMessage>(Math.Min(max, 256));
        lock (_readerLock)
        {
            _read.Parameters[0].Value = afterSequence;
            _read.Parameters[1].Value = max;
            using var reader = _read.ExecuteReader();
            while (reader.Read())
            {
                result.Add(new StoredMessage(reader.GetInt64(0), OutboxRecord.Decode((byte[])reader.GetValue(1))));
            }
        }
        return result;
    }

    /// <summary>Waits until something was appended since the last wait, or the timeout passes.</summary>
    public Task<bool> WaitForDataAsync(TimeSpan timeout, CancellationToken cancellationToken) => _dataAvailable.WaitAsync(timeout, cancellationToken);

    private async Task WriteLoopAsync()
    {
        var batch = new List<WriteRequest>();
        var reader = _requests.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            var messages = 0;
            while (messages < _options.MaxBatch && reader.TryRead(out var request))
            {
                batch.Add(request);
                messages += request.Messages?.Count ?? 1;
            }
            try
            {
                Commit(batch);
                foreach (var request in batch)
                {
                    request.Completion.TrySetResult();
                }
            }
            catch (Exception e) when (e is SqliteException or IOException or InvalidOperationException)
            {
                LogWriteFailed(_logger, e.GetType().Name, batch.Count);
                foreach (var request in batch)
                {
                    request.Completion.TrySetException(new OutboxUnavailableException("The outbox could not store the message.", e));
                }
            }
        }
    }

    private void Commit(List<WriteRequest> batch)
    {
        var appended = false;
        using var transaction = _writer.BeginTransaction();
        _insert.Transaction = transaction;
        _deleteRange.Transaction = transaction;
        _dropOldest.Transaction = transaction;
        long countDelta = 0;
        long bytesDelta = 0;
        foreach (var request in batch)
        {
            if (request.Messages is { } messages)
            {
                foreach (var message in messages)
                {
                    var record = OutboxRecord.Encode(message);
                    _insert.Parameters[0].Value = record;
                    _insert.ExecuteNonQuery();
                    countDelta++;
                    bytesDelta += record.Length;
                    appended = true;
                }
            }
            else
            {
                foreach (var (first, last) in Ranges(request.Acknowledged!))
                {
                    _deleteRange.Parameters[0].Value = first;
                    _deleteRange.Parameters[1].Value = last;
                    using var deleted = _deleteRange.ExecuteReader();
                    while (deleted.Read())
                    {
                        countDelta--;
                        bytesDelta -= deleted.GetInt64(0);
                    }
                }
            }
        }
        var count = _count + countDelta;
        var bytes = _bytes + bytesDelta;
        if (count > _options.MaxMessages || bytes > _options.MaxBytes)
        {
            (count, bytes) = DropOldest(count, bytes);
        }
        transaction.Commit();
        Interlocked.Exchange(ref _count, count);
        Interlocked.Exchange(ref _bytes, bytes);
        if (appended && _dataAvailable.CurrentCount == 0)
        {
            _dataAvailable.Release();
        }
    }

    /// <summary>Acknowledged sequences as contiguous ranges: acknowledgements mostly come in order, so few statements.</summary>
    private static IEnumerable<(long First, long Last)> Ranges(IReadOnlyList<long> sequences)
    {
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
        while ((count > _options.MaxMessages || bytes > _options.MaxBytes) && _dropOldest.ExecuteScalar() is long length)
        {
            count--;
            bytes -= length;
            dropped++;
        }
        Interlocked.Add(ref _dropped, dropped);
        LogDropped(_logger, dropped, _options.MaxMessages, _options.MaxBytes);
        return (count, bytes);
    }

    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        await _writeLoop;
        lock (_readerLock)
        {
            _read.Dispose();
            _reader.Dispose();
        }
        _insert.Dispose();
        _deleteRange.Dispose();
        _dropOldest.Dispose();
        _writer.Dispose();
        _dataAvailable.Dispose();
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

    /// <summary>Refuses an outbox written in a layout this version does not know, rather than misreading it.</summary>
    private static void CheckFormat(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT user_version FROM pragma_user_version), EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'outbox');";
        using var reader = command.ExecuteReader();
        reader.Read();
        if (reader.GetInt64(1) == 1 && reader.GetInt64(0) != FormatVersion)
        {
            throw new OutboxUnavailableException($"The outbox has format {reader.GetInt64(0)}; this gateway reads format {FormatVersion}.", null);
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private sealed class WriteRequest(IReadOnlyList<UpstreamMessage>? messages, IReadOnlyList<long>? acknowledged)
    {
        public IReadOnlyList<UpstreamMessage>? Messages { get; } = messages;
        public IReadOnlyList<long>? Acknowledged { get; } = acknowledged;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Outbox full: dropped the {Dropped} oldest outputs (limits: {MaxMessages} outputs, {MaxBytes} bytes)")]
    private static partial void LogDropped(ILogger logger, long dropped, long maxMessages, long maxBytes);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Outbox write failed ({Error}); {Requests} requests not stored, their devices are not acknowledged")]
    private static partial void LogWriteFailed(ILogger logger, string error, int requests);
}

/// <summary>The outbox could not store a message; the device must not be acknowledged.</summary>
public sealed class OutboxUnavailableException(string message, Exception? inner) : Exception(message, inner);
