using System.Text;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Policy;

/// <summary>
/// The topic an output is published under, a template over the stream's captures
/// (<c>dt/anker_power/{pn}/{sn}/status</c>). Each capture is copied or pseudonymized as its purpose says.
/// </summary>
public sealed class OutputTopic
{
    private readonly Part[] _parts;

    internal OutputTopic(string template, Part[] parts)
    {
        Template = template;
        _parts = parts;
    }

    public string Template { get; }

    /// <summary>Upper bound of the rendered length for a topic of <paramref name="topicLength"/> chars.</summary>
    internal int MaxLength(int topicLength, int pseudonymLength)
    {
        var total = 0;
        foreach (var part in _parts)
        {
            total += part.Literal?.Length ?? Math.Max(topicLength * 3, pseudonymLength);
        }
        return total;
    }

    /// <summary>Writes the rendered topic as UTF-8; returns its length.</summary>
    internal int Render(ReadOnlySpan<char> topic, ReadOnlySpan<Range> captures, Pseudonymizer pseudonymizer, Span<byte> destination, Span<byte> scratch)
    {
        var written = 0;
        foreach (var part in _parts)
        {
            if (part.Literal is not null)
            {
                part.Literal.CopyTo(destination[written..]);
                written += part.Literal.Length;
                continue;
            }
            var value = topic[captures[part.CaptureIndex]];
            if (part.Transform == TransformKind.PseudonymizeSameLength)
            {
                written += pseudonymizer.WriteSameLength(value, destination[written..]);
            }
            else if (part.Transform == TransformKind.Pseudonymize)
            {
                var length = Encoding.UTF8.GetBytes(value, scratch);
                written += pseudonymizer.Write(scratch[..length], destination[written..]);
            }
            else
            {
                written += Encoding.UTF8.GetBytes(value, destination[written..]);
            }
        }
        return written;
    }

    internal readonly record struct Part(byte[]? Literal, int CaptureIndex, TransformKind Transform);
}
