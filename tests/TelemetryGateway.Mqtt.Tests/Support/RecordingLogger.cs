using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TelemetryGateway.Mqtt.Tests.Support;

/// <summary>Keeps every log entry (event id and rendered message) so a test can check what was logged and what was not.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public string Text => string.Join('\n', Entries.Select(e => e.Message));
}
