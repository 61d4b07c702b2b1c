using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
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

    private static readonly string[] s_insertParameters =
        ["$topic", "$payload", "$content_type", "$purpose", "$legal_basis", "$categories", "$policy", "$retention", "$expiry"];

    private readonly OutboxOptions _options;
    private readonly ILogger _logger;
    private readonly SqliteConnection _writer;
    private readonly SqliteConnection _reader;
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
        Execute(_writer, """
            CREATE TABLE IF NOT EXISTS outbox (
              seq INTEGER PRIMARY KEY AUTOINCREMENT,
              topic TEXT NOT NULL,
              payload BLOB NOT NULL,
              content_type TEXT NOT NULL,
              purpose TEXT NOT NULL,
              legal_basis TEXT NOT NULL,
              categories TEXT NOT NULL,
              policy TEXT NOT NULL,
              retention TEXT NOT NULL,
              expiry_seconds INTEGER NOT NULL
            );
            """);
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox;";
            using var reader = command.ExecuteReader();
            reader.Read();
            _count = reader.GetInt64(0);
            _bytes = reader.GetInt64(1);
        }
        _reader = new SqliteConnection(connectionString);
        _reader.Open();
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
        Directory.CreateDirectory(dataDirectory);
        return new SqliteOutbox(Path.Combine(dataDirectory, FileName), options, logger);
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
            using var command = _reader.CreateCommand();
            command.CommandText = """
                SELECT seq, topic, payload, content_type, purpose, legal_basis, categories, policy, retention, expiry_seconds
                FROM outbox WHERE seq > $after ORDER BY seq LIMIT $max;
                """;
            command.Parameters.AddWithValue("$after", afterSequence);
            command.Parameters.AddWithValue("$max", max);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                result.Add(new StoredMessage(
                    reader.GetInt64(0),
                    new UpstreamMessage(
                        reader.GetString(1), (byte[])reader.GetValue(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                        reader.GetString(6), reader.GetString(7), reader.GetString(8), (uint)reader.GetInt64(9))));
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
        using var insert = _writer.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO outbox (topic, payload, content_type, purpose, legal_basis, categories, policy, retention, expiry_seconds)
            VALUES ($topic, $payload, $content_type, $purpose, $legal_basis, $categories, $policy, $retention, $expiry);
            """;
        var parameters = s_insertParameters.Select(name => insert.Parameters.Add(new SqliteParameter { ParameterName = name })).ToArray();
        using var delete = _writer.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM outbox WHERE seq = $seq RETURNING LENGTH(payload);";
        var seqParameter = delete.Parameters.Add(new SqliteParameter { ParameterName = "$seq" });
        long countDelta = 0;
        long bytesDelta = 0;
        foreach (var request in batch)
        {
            if (request.Messages is { } messages)
            {
                foreach (var message in messages)
                {
                    parameters[0].Value = message.Topic;
                    parameters[1].Value = message.Payload;
                    parameters[2].Value = message.ContentType;
                    parameters[3].Value = message.Purpose;
                    parameters[4].Value = message.LegalBasis;
                    parameters[5].Value = message.Categories;
                    parameters[6].Value = message.Policy;
                    parameters[7].Value = message.Retention;
                    parameters[8].Value = (long)message.ExpirySeconds;
                    insert.ExecuteNonQuery();
                    countDelta++;
                    bytesDelta += message.Payload.Length;
                    appended = true;
                }
            }
            else
            {
                foreach (var sequence in request.Acknowledged!)
                {
                    seqParameter.Value = sequence;
                    if (delete.ExecuteScalar() is long length)
                    {
                        countDelta--;
                        bytesDelta -= length;
                    }
                }
            }
        }
        var count = _count + countDelta;
        var bytes = _bytes + bytesDelta;
        if (count > _options.MaxMessages || bytes > _options.MaxBytes)
        {
            (count, bytes) = DropOldest(transaction, count, bytes);
        }
        transaction.Commit();
        Interlocked.Exchange(ref _count, count);
        Interlocked.Exchange(ref _bytes, bytes);
        if (appended && _dataAvailable.CurrentCount == 0)
        {
            _dataAvailable.Release();
        }
    }

    private (long Count, long Bytes) DropOldest(SqliteTransaction transaction, long count, long bytes)
    {
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox) RETURNING LENGTH(payload);";
        long dropped = 0;
        while ((count > _options.MaxMessages || bytes > _options.MaxBytes) && command.ExecuteScalar() is long length)
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
            _reader.Dispose();
        }
        _writer.Dispose();
        _dataAvailable.Dispose();
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
public sealed class OutboxUnavailableException(string message, Exception inner) : Exception(message, inner);
