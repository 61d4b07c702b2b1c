using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Storage;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary>
/// Records of quarantined messages, one NDJSON line each in the data directory: time, stream, the stream's topic
/// pattern (never the concrete topic, which carries the serial), reason, size and a keyed digest of the payload
/// (so a repeated bad message can be recognised without keeping it). Never the payload itself.
/// Repeats of one stream and reason within the aggregation interval are not written one by one: the first is a record
/// and a log line, the rest are counted and written as one record (<c>"repeated"</c>, <c>"bytes"</c>) and one log line
/// once the interval has passed (at the next quarantine, or at stop). So whatever a client sends, the file and the log
/// grow by at most two lines per stream and reason per interval.
/// </summary>
internal sealed partial class QuarantineLog : IDisposable
{
    public const string FileName = "quarantine.ndjson";

    private readonly Lock _lock = new();
    private readonly Pseudonymizer _digest;
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _writer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Dictionary<(string Stream, QuarantineReason Reason), Repeats> _repeats = [];
    private long _count;

    private sealed class Repeats(CompiledStream stream, long start)
    {
        public CompiledStream Stream { get; } = stream;
        public long Start = start;
        public long Count;
        public long Bytes;
    }

    public QuarantineLog(string dataDirectory, PseudonymizationKey key, ILogger logger, TimeProvider time, TimeSpan aggregationInterval = default)
    {
        _interval = aggregationInterval;
        PrivateFiles.CreateDirectory(dataDirectory);
        _digest = new Pseudonymizer(key);
        var path = Path.Combine(dataDirectory, FileName);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFiles.FileMode;
        }
        _file = new FileStream(path, options);
        PrivateFiles.Narrow(path);
        _writer = new Utf8JsonWriter(_file);
        _logger = logger;
        _time = time;
    }

    public long Count => Interlocked.Read(ref _count);

    public void Record(CompiledStream stream, QuarantineReason reason, in ReadOnlySequence<byte> payload)
    {
        Interlocked.Increment(ref _count);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_interval > TimeSpan.Zero)
            {
                if (_repeats.TryGetValue((stream.Name, reason), out var repeats) && _time.GetElapsedTime(repeats.Start, now) < _interval)
                {
                    repeats.Count++;
                    repeats.Bytes += payload.Length;
                    return;
                }
                WriteElapsedRepeats(now);
                _repeats[(stream.Name, reason)] = new Repeats(stream, now);
            }
            WriteRecord(stream, reason, payload);
        }
        LogQuarantined(_logger, stream.Name, reason.Id(), payload.Length);
    }

    /// <summary>Writes the counts of repeats whose interval has passed (all of them when <paramref name="now"/> is null).</summary>
    private void WriteElapsedRepeats(long? now)
    {
        foreach (var ((name, reason), repeats) in _repeats)
        {
            if (now is { } at && _time.GetElapsedTime(repeats.Start, at) < _interval)
            {
                continue;
            }
            _repeats.Remove((name, reason));
            if (repeats.Count == 0)
            {
                continue;
            }
            _writer.WriteStartObject();
            _writer.WriteString("time", _time.GetUtcNow());
            _writer.WriteString("stream", name);
            _writer.WriteString("topicFilter", repeats.Stream.Filter.Text);
            _writer.WriteString("reason", reason.Id());
            _writer.WriteNumber("repeated", repeats.Count);
            _writer.WriteNumber("bytes", repeats.Bytes);
            _writer.WriteEndObject();
            _writer.Flush();
            _file.WriteByte((byte)'\n');
            _file.Flush();
            _writer.Reset();
            LogRepeated(_logger, repeats.Count, name, reason.Id(), _interval.TotalSeconds);
        }
    }

    private void WriteRecord(CompiledStream stream, QuarantineReason reason, in ReadOnlySequence<byte> payload)
    {
        var digest = new byte[_digest.Length];
        _digest.Write(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), digest);
        _writer.WriteStartObject();
        _writer.WriteString("time", _time.GetUtcNow());
        _writer.WriteString("stream", stream.Name);
        _writer.WriteString("topicFilter", stream.Filter.Text);
        _writer.WriteString("reason", reason.Id());
        _writer.WriteNumber("size", payload.Length);
        _writer.WriteString("digest", digest);
        _writer.WriteEndObject();
        _writer.Flush();
        _file.WriteByte((byte)'\n');
        _file.Flush();
        _writer.Reset();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            WriteElapsedRepeats(null);
        }
        _writer.Dispose();
        _file.Dispose();
        _digest.Dispose();
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Quarantined a {Stream} message: {Reason} ({Size} bytes); nothing of it was forwarded")]
    private static partial void LogQuarantined(ILogger logger, string stream, string reason, long size);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Quarantined {Count} more {Stream} messages for {Reason} within {Seconds} s (counted in one record); nothing of them was forwarded")]
    private static partial void LogRepeated(ILogger logger, long count, string stream, string reason, double seconds);
}
