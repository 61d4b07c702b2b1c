using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Storage;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary>
/// Records of quarantined messages, one NDJSON line each in the data directory: time, stream, the stream's topic
/// pattern (never the concrete topic, which carries the serial), reason, size and a keyed digest of the payload
/// (so a repeated bad message can be recognised without keeping it). Never the payload itself. The digest key is
/// derived from the pseudonymization key for this use alone, so a digest can never be matched against a pseudonym.
/// The file is written by a background task (the receive loop only queues the record), rotated by size and bounded
/// in number, and created 0600 in a 0700 directory whatever the umask. Repeats of one stream and reason within the
/// aggregation interval are not recorded one by one: the first is a record and a log line, the rest are counted and
/// written as one record (<c>"repeated"</c>, <c>"bytes"</c>) and one log line once the interval has passed (at the next
/// quarantine of that kind, or at stop), so whatever a client sends, the file and the log grow by at most two lines per
/// stream and reason per interval. Without aggregation, warnings are still limited to one per stream and reason per
/// warning interval, with a count of those left out.
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
    private readonly Dictionary<(string Stream, QuarantineReason Reason), Repeats> _repeats = [];
    private readonly Lock _repeatsLock = new();
    private readonly TimeSpan _aggregation;
    private FileStream? _file;
    private long _count;
    private long _lost;

    public QuarantineLog(
        string dataDirectory, PseudonymizationKey key, ILogger logger, TimeProvider time, QuarantineOptions? options = null, TimeSpan aggregationInterval = default)
    {
        PrivateFiles.CreateDirectory(dataDirectory);
        PrivateFiles.Narrow(PathOf(dataDirectory, 0));
        _directory = dataDirectory;
        _aggregation = aggregationInterval;
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
        if (_aggregation > TimeSpan.Zero && IsRepeat(stream, reason, payload.Length))
        {
            return;
        }

        var digest = new byte[_digest.Length];
        lock (_digestLock)
        {
            _digest.Write(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), digest);
        }
        _records.Writer.TryWrite(new QuarantineRecord(_time.GetUtcNow(), stream.Name, stream.Filter.Text, reason, payload.Length, digest));
        Warn(stream.Name, reason, payload.Length);
    }

    // Counts a repeat of a stream and reason whose interval is still open; queues the counts of intervals that have passed.
    private bool IsRepeat(CompiledStream stream, QuarantineReason reason, long size)
    {
        var now = _time.GetTimestamp();
        lock (_repeatsLock)
        {
            if (_repeats.TryGetValue((stream.Name, reason), out var repeats) && _time.GetElapsedTime(repeats.Start, now) < _aggregation)
            {
                repeats.Count++;
                repeats.Bytes += size;
                return true;
            }

            QueueElapsedRepeats(now);
            _repeats[(stream.Name, reason)] = new Repeats(stream.Filter.Text, now);
            return false;
        }
    }

    // The counts of repeats whose interval has passed (all of them when now is null), as one record and one log line each.
    private void QueueElapsedRepeats(long? now)
    {
        foreach (var ((name, reason), repeats) in _repeats)
        {
            if (now is { } at && _time.GetElapsedTime(repeats.Start, at) < _aggregation)
            {
                continue;
            }

            _repeats.Remove((name, reason));
            if (repeats.Count == 0)
            {
                continue;
            }

            _records.Writer.TryWrite(new QuarantineRecord(_time.GetUtcNow(), name, repeats.TopicFilter, reason, repeats.Bytes, [], repeats.Count));
            LogRepeated(_logger, repeats.Count, name, reason.Id(), _aggregation.TotalSeconds);
        }
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
                if (record.Repeated > 0)
                {
                    writer.WriteNumber("repeated", record.Repeated);
                    writer.WriteNumber("bytes", record.Size);
                }
                else
                {
                    writer.WriteNumber("size", record.Size);
                    writer.WriteString("digest", record.Digest);
                }

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
        _file ??= OpenFile();
        if (_file.Length > 0 && _file.Length + line.Length > _options.MaxFileBytes)
        {
            Rotate();
            _file = OpenFile();
        }
        _file.Write(line);
    }

    // 0600 whatever the umask: the records name streams and reasons of this site.
    private FileStream OpenFile()
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFiles.FileMode;
        }

        return new FileStream(PathOf(_directory, 0), options);
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
        lock (_repeatsLock)
        {
            QueueElapsedRepeats(null);
        }

        _records.Writer.TryComplete();
        await _writing;
        _digest.Dispose();
    }

    // Repeated > 0: the counts of that many repeats within an aggregation interval, Size their bytes together.
    private sealed record QuarantineRecord(DateTimeOffset Time, string Stream, string TopicFilter, QuarantineReason Reason, long Size, byte[] Digest, long Repeated = 0);

    private sealed class Repeats(string topicFilter, long start)
    {
        public string TopicFilter { get; } = topicFilter;

        public long Start { get; } = start;

        public long Count { get; set; }

        public long Bytes { get; set; }
    }

    private sealed class WarningWindow
    {
        public long Last;
        public long Suppressed;
    }

    [LoggerMessage(EventId = EventIds.Quarantined, Level = LogLevel.Warning, Message = "Quarantined a {Stream} message: {Reason} ({Size} bytes); nothing of it was forwarded")]
    private static partial void LogQuarantined(ILogger logger, string stream, string reason, long size);

    [LoggerMessage(EventId = EventIds.QuarantineAggregated, Level = LogLevel.Warning, Message = "Quarantined {Count} more {Stream} messages for {Reason} within {Seconds} s (counted in one record); nothing of them was forwarded")]
    private static partial void LogRepeated(ILogger logger, long count, string stream, string reason, double seconds);

    [LoggerMessage(EventId = EventIds.QuarantineWarningsSuppressed, Level = LogLevel.Warning, Message = "{Suppressed} more {Stream} messages were quarantined for {Reason} in the last {IntervalSeconds} s (recorded, not logged one by one)")]
    private static partial void LogSuppressed(ILogger logger, long suppressed, string stream, string reason, double intervalSeconds);

    [LoggerMessage(EventId = EventIds.QuarantineRecordsDropped, Level = LogLevel.Warning, Message = "{Lost} quarantine records were not written (the writer fell behind or the file failed); the messages were still quarantined")]
    private static partial void LogRecordsLost(ILogger logger, long lost);

    [LoggerMessage(EventId = EventIds.QuarantineFileFailed, Level = LogLevel.Error, Message = "The quarantine record file could not be written ({Error}); trying again with the next record")]
    private static partial void LogFileFailed(ILogger logger, string error);
}
