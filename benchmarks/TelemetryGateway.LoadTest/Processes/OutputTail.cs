using System.Diagnostics;

namespace TelemetryGateway.LoadTest.Processes;

/// <summary>Drains a child's stdout and stderr (so its pipes never fill) and keeps the last lines for error messages.</summary>
internal sealed class OutputTail
{
    private const int MaxLines = 40;
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();

    public void Attach(Process process)
    {
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _lines.Count == 0 ? "(no output)" : string.Join(Environment.NewLine, _lines.Select(l => "    " + l));
            }
        }
    }

    private void Add(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        lock (_gate)
        {
            _lines.Enqueue(line);
            while (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }
        }
    }
}
