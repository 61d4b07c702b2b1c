using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Protobuf;

/// <summary>
/// Corrupted messages (seeded random byte changes and every truncation): the rewriter never faults, and whatever it
/// does not quarantine comes out as a message the generated class parses.
/// </summary>
public sealed class ProtobufMutationTests
{
    private const int MutationsPerKind = 1500;

    public static TheoryData<string> Kinds => new(ProtobufSamples.Kinds);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Randomly_corrupted_message_is_quarantined_or_rewritten_into_a_valid_message(string kind)
    {
        var original = ProtobufSamples.Build(kind).ToByteArray();
        var random = new Random(4242);
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key);
        var rewritten = 0;
        for (var i = 0; i < MutationsPerKind; i++)
        {
            var mutated = (byte[])original.Clone();
            var changes = 1 + random.Next(3);
            for (var c = 0; c < changes; c++)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }
            rewritten += Check(minimizer, kind, mutated);
        }
        // Many changes land in values, not in structure (random bytes in text mostly make invalid UTF-8, quarantined):
        // the check saw real outputs.
        Assert.True(rewritten > MutationsPerKind / 10, $"only {rewritten} of {MutationsPerKind} corrupted messages were rewritten");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_truncation_is_quarantined_or_rewritten_into_a_valid_message(string kind)
    {
        var original = ProtobufSamples.Build(kind).ToByteArray();
        using var minimizer = new Minimizer(ProtobufSamples.Policy, TestPolicies.Key);
        var quarantined = 0;
        for (var length = 1; length < original.Length; length++)
        {
            if (Check(minimizer, kind, original[..length]) == 0)
            {
                quarantined++;
            }
        }
        Assert.True(quarantined > 0);
    }

    /// <summary>1 when the message was rewritten (and every output parsed), 0 when it was quarantined.</summary>
    private static int Check(Minimizer minimizer, string kind, byte[] payload)
    {
        var result = minimizer.Minimize(ProtobufSamples.Topic(kind), new System.Buffers.ReadOnlySequence<byte>(payload));
        Assert.NotEqual(QuarantineReason.ProcessingFault, result.QuarantineReason);
        if (result.IsQuarantined)
        {
            return 0;
        }
        foreach (var output in result.Outputs.Span)
        {
            ProtobufSamples.Parser(kind).ParseFrom(output.Payload.ToArray());
        }
        return 1;
    }
}
