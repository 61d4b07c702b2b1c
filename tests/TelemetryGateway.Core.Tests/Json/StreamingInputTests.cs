using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Core.Tests.Json;

/// <summary>
/// Input that arrives in chunks (an HTTP body pipe): the rewriter keeps its state between calls and
/// gives the same output as for the whole message at once.
/// </summary>
public sealed class StreamingInputTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    public void Chunked_input_gives_the_same_outputs_as_whole_input(int chunkSize)
    {
        foreach (var message in Support.Corpus.Messages.Where(m => !m.IsBad && m.ContentType == "application/json"))
        {
            var stream = TestPolicies.Default.Match(message.Topic, new Range[4])!;
            // The JSON rewriter's purposes: an aggregate entry is folded into its windows, never rewritten (Minimizer).
            var purposes = stream.PurposeArray.Where(p => p.Aggregate is null).ToArray();
            var whole = Minimize(purposes, message.Payload, message.Payload.Length);
            var chunked = Minimize(purposes, message.Payload, chunkSize);
            Assert.Equal(whole, chunked);
        }
    }

    [Fact]
    public void Truncated_chunked_input_is_quarantined_at_the_final_block()
    {
        var stream = TestPolicies.Default.Match("dt/anker_power/A/SN/network", new Range[4])!;
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var minimizer = new JsonMinimizer(pseudonymizer, stream.PurposeArray.Length, 32);
        minimizer.Begin(stream.PurposeArray, 32);
        var first = Encoding.UTF8.GetBytes("""{"sn":"SN","wifi":{"ssid":"x""");
        Assert.Equal(QuarantineReason.None, minimizer.Process(new ReadOnlySequence<byte>(first), isFinalBlock: false, out var consumed));
        var rest = first.AsSpan((int)consumed).ToArray();
        Assert.Equal(QuarantineReason.MalformedJson, minimizer.Process(new ReadOnlySequence<byte>(rest), isFinalBlock: true, out _));
    }

    private static string[] Minimize(Core.Policy.StreamPurpose[] purposes, byte[] payload, int chunkSize)
    {
        using var pseudonymizer = new Pseudonymizer(TestPolicies.Key);
        using var minimizer = new JsonMinimizer(pseudonymizer, purposes.Length, 32);
        minimizer.Begin(purposes, 32);
        var pending = new List<byte>();
        var offset = 0;
        while (true)
        {
            var take = Math.Min(chunkSize, payload.Length - offset);
            pending.AddRange(payload.AsSpan(offset, take).ToArray());
            offset += take;
            var final = offset == payload.Length;
            var reason = minimizer.Process(new ReadOnlySequence<byte>(pending.ToArray()), final, out var consumed);
            Assert.Equal(QuarantineReason.None, reason);
            // The unconsumed tail (a token cut by the chunk boundary) is presented again with the next chunk.
            pending.RemoveRange(0, (int)consumed);
            if (final)
            {
                break;
            }
        }
        return Enumerable.Range(0, purposes.Length).Select(i => Encoding.UTF8.GetString(minimizer.Output(i).Span)).ToArray();
    }
}
