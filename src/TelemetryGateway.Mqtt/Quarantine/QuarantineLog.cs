using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TelemetryGateway.Core.Engine;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Mqtt.Quarantine;

/// <summary>
/// Records of quarantined messages, one NDJSON line each in the data directory: time, stream, the stream's topic
/// pattern (never the concrete topic, which carries the serial), reason, size and a keyed digest of the payload
/// (so a repeated bad message can be recognised without keeping it). Never the payload itself.
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
    private long _count;

    public QuarantineLog(string dataDirectory, PseudonymizationKey key, ILogger logger, TimeProvider time)
    {
        Directory.CreateDirectory(dataDirectory);
        _digest = new Pseudonymizer(key);
        _file = new FileStream(Path.Combine(dataDirectory, FileName), FileMode.Append, FileAccess.Write, FileShare.Read);
        _writer = new Utf8JsonWriter(_file);
        _logger = logger;
        _time = time;
    }

    public long Count => Interlocked.Read(ref _count);

    public void Record(CompiledStream stream, QuarantineReason reason, in ReadOnlySequence<byte> payload)
    {
        Interlocked.Increment(ref _count);
        var digest = new byte[_digest.Length];
        lock (_lock)
        {
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
        LogQuarantined(_logger, stream.Name, reason.Id(), payload.Length);
    }

    public void Dispose()
    {
        _writer.Dispose();
        _file.Dispose();
        _digest.Dispose();
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Quarantined a {Stream} message: {Reason} ({Size} bytes); nothing of it was forwarded")]
    private static partial void LogQuarantined(ILogger logger, string stream, string reason, long size);
}
