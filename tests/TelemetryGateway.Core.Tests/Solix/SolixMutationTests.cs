using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>
/// Corrupted binaries (random bytes changed, checksum made right again so the structure checks are what decides)
/// never fault the engine: each is quarantined, or every output is still a valid message of its type, with no serial
/// outside the service purpose.
/// </summary>
public sealed class SolixMutationTests
{
    private const int MutationsPerMessage = 60;

    public static TheoryData<string> Messages()
    {
        var data = new TheoryData<string>();
        foreach (var message in SolixMessages.Corpus.GroupBy(m => (m.Topic, Type: SolixMessages.TypeOf(m))).Select(g => g.First()))
        {
            data.Add(message.Id);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Corrupted_binary_is_quarantined_or_rewritten_into_valid_messages(string id)
    {
        var message = SolixMessages.ById(id);
        var binary = SolixMessages.BinaryOf(message.Payload);
        var serial = message.Topic.Split('/')[3];
        var random = new Random(binary.Length);
        for (var i = 0; i < MutationsPerMessage; i++)
        {
            var mutated = (byte[])binary.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                // Past the marker and length: those have their own tests; here the fields are what changes.
                mutated[random.Next(4, mutated.Length - 1)] = (byte)random.Next(256);
            }
            mutated[^1] = SolixMessages.Xor(mutated.AsSpan(0, mutated.Length - 1));

            var (result, outputs) = SolixMessages.Run(TestPolicies.Default, message.Topic, SolixMessages.Envelope(mutated, serial, message.Topic.Split('/')[2]), Segmentation.SingleSegment);

            Assert.NotEqual(QuarantineReason.ProcessingFault, result.QuarantineReason);
            foreach (var output in outputs.Select(SolixMessages.Decode))
            {
                SolixMessages.AssertValid(output.Binary, (ushort)((mutated[7] << 8) | mutated[8]), $"{id} mutation {i} {output.Purpose}");
                Assert.False(output.Purpose != "after-sales-service" && CanaryScanner.Contains(output.Binary, serial), $"{id} mutation {i}: serial in {output.Purpose}");
            }
        }
    }
}
