using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary>
/// Records of quarantined messages, one NDJSON line each in the data directory: time, stream, the stream's topic
/// pattern (never the concrete topic, which carries the serial), reason, size and a keyed digest of the payload
/// (so a repeated bad message can be recognised without keeping it). Never the payload itself. The digest key is
/// derived from the pseudonymization key for this use alone, so a digest can never be matched against a pseudonym.
/// The file is written by a background task (the receive loop only queues the record), rotated by size and bounded
/// in number; warnings are limited to one per stream and reason per interval, with a count of those left out.
/// </summary>
internal sealed partial class QuarantineLog : IAsyncDisposable
{
    public const string FileName = "quarantine.ndjson";

    /// <summary>The label under which the digest key is derived (domain separation from pseudonyms).</summary>
    public const string DigestKeyLabel = "quarantine-digest";

    private readonly string _directory;
    private readonly QuarantineOptions _options;
    private readonly Pseudonymizer _digest;
    private readonly Lock _digestLock = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<QuarantineRecord> _records;
    private readonly Task _writing;
    private readonly ConcurrentDictionary<(string Stream, QuarantineReason Reason), WarningWindow> _warnings = new();
    private FileStream? _file;
    private long _count;
    private long _lost;

    public QuarantineLog(string dataDirectory, PseudonymizationKey key, ILogger logger, TimeProvider time, QuarantineOptions? options = null)
    {
        Directory.CreateDirectory(dataDirectory);
        _directory = dataDirectory;
        _options = options ?? QuarantineOptions.Default;
        _digest = new Pseudonymizer(key.Derive(DigestKeyLabel));
        _logger = logger;
        _time = time;
        _records = Channel.CreateBounded<QuarantineRecord>(new BoundedChannelOptions(_options.MaxPendingRecords)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _lost));
        _writing = Task.Run(WriteLoopAsync);
    }

    /// <summary>Messages quarantined since start.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Records not written because the writer fell behind or the file could not be written (counted, and warned about).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Path of record file number <paramref name="index"/>: 0 is the current one, higher numbers older.</summary>
    public static string PathOf(string dataDirectory, int index) =>
        Path.Combine(dataDirectory, index == 0 ? FileName : $"quarantine.{index}.ndjson");

    /// <summary>Counts and queues the record of one quarantined message; cheap enough for the receive loop.</summary>
    public void Record(CompiledStream stream, QuarantineReason reason, in ReadOnlySequence<byte> payload)
    {
        Interlocked.Increment(ref _count);
        var digest = new byte[_digest.Length];
        lock (_digestLock)
        {
            _digest.Write(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), digest);
        }
        _records.Writer.TryWrite(new QuarantineRecord(_time.GetUtcNow(), stream.Name, stream.Filter.Text, reason, payload.Length, digest));
        Warn(stream.Name, reason, payload.Length);
    }

    private void Warn(string stream, QuarantineReason reason, long size)
    {
        var window = _warnings.GetOrAdd((stream, reason), static _ => new WarningWindow());
        var now = _time.GetTimestamp();
        long suppressed;
        lock (window)
        {
            if (window.Last != 0 && _time.GetElapsedTime(window.Last, now) < _options.WarningInterval)
            {
                window.Suppressed++;
                return;
            }
            window.Last = now;
            suppressed = window.Suppressed;
            window.Suppressed = 0;
        }
        LogQuarantined(_logger, stream, reason.Id(), size);
        if (suppressed > 0)
        {
            LogSuppressed(_logger, suppressed, stream, reason.Id(), _options.WarningInterval.TotalSeconds);
        }
    }

    private async Task WriteLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        long reportedLost = 0;
        while (await _records.Reader.WaitToReadAsync())
        {
            while (_records.Reader.TryRead(out var record))
            {
                buffer.ResetWrittenCount();
                writer.Reset(buffer);
                writer.WriteStartObject();
                writer.WriteString("time", record.Time);
                writer.WriteString("stream", record.Stream);
                writer.WriteString("topicFilter", record.TopicFilter);
                writer.WriteString("reason", record.Reason.Id());
                writer.WriteNumber("size", record.Size);
                writer.WriteString("digest", record.Digest);
                writer.WriteEndObject();
                writer.Flush();
                buffer.Write("\n"u8);
                try
                {
                    Append(buffer.WrittenSpan);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Interlocked.Increment(ref _lost);
                    CloseFile();
                    LogFileFailed(_logger, e.GetType().Name);
                }
            }
            _file?.Flush();
            var lost = Lost;
            if (lost != reportedLost)
            {
                LogRecordsLost(_logger, lost - reportedLost);
                reportedLost = lost;
            }
        }
        CloseFile();
    }

    private void Append(ReadOnlySpan<byte> line)
    {
        _file ??= new FileStream(PathOf(_directory, 0), FileMode.Append, FileAccess.Write, FileShare.Read);
        if (_file.Length > 0 && _file.Length + line.Length > _options.MaxFileBytes)
        {
            Rotate();
            _file = new FileStream(PathOf(_directory, 0), FileMode.Append, FileAccess.Write, FileShare.Read);
        }
        _file.Write(line);
    }

    /// <summary>quarantine.ndjson becomes quarantine.1.ndjson, each older file moves up one, the oldest beyond the limit goes.</summary>
    private void Rotate()
    {
        CloseFile();
        var oldest = PathOf(_directory, _options.MaxFiles - 1);
        if (_options.MaxFiles == 1)
        {
            File.Delete(oldest);
            return;
        }
        File.Delete(oldest);
        for (var index = _options.MaxFiles - 2; index >= 0; index--)
        {
            var from = PathOf(_directory, index);
            if (File.Exists(from))
            {
                File.Move(from, PathOf(_directory, index + 1));
            }
        }
    }

    private void CloseFile()
    {
        _file?.Dispose();
        _file = null;
    }

    /// <summary>Writes what is queued, then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _records.Writer.TryComplete();
        await _writing;
        _digest.Dispose();
    }

    private sealed record QuarantineRecord(DateTimeOffset Time, string Stream, string TopicFilter, QuarantineReason Reason, long Size, byte[] Digest);

    private sealed class WarningWindow
    {
        public long Last;
        public long Suppressed;
    }

    [LoggerMessage(EventId = EventIds.Quarantined, Level = LogLevel.Warning, Message = "Quarantined a {Stream} message: {Reason} ({Size} bytes); nothing of it was forwarded")]
    private static partial void LogQuarantined(ILogger logger, string stream, string reason, long size);

    [LoggerMessage(EventId = EventIds.QuarantineWarningsSuppressed, Level = LogLevel.Warning, Message = "{Suppressed} more {Stream} messages were quarantined for {Reason} in the last {IntervalSeconds} s (recorded, not logged one by one)")]
    private static partial void LogSuppressed(ILogger logger, long suppressed, string stream, string reason, double intervalSeconds);

    [LoggerMessage(EventId = EventIds.QuarantineRecordsDropped, Level = LogLevel.Warning, Message = "{Lost} quarantine records were not written (the writer fell behind or the file failed); the messages were still quarantined")]
    private static partial void LogRecordsLost(ILogger logger, long lost);

    [LoggerMessage(EventId = EventIds.QuarantineFileFailed, Level = LogLevel.Error, Message = "The quarantine record file could not be written ({Error}); trying again with the next record")]
    private static partial void LogFileFailed(ILogger logger, string error);
}
