using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Solix;

/// <summary>The SOLIX corpus through the shipped default policy, on every segmentation of the input.</summary>
/// <remarks>
/// Thousands of cases: run on their own after the parallel tests, so their CPU load does not starve the background
/// JIT of other classes' allocation measurements (seen making a log scrubber allocation test fail).
/// </remarks>
[Collection(nameof(SolixCorpusCollection))]
public sealed class SolixCorpusTests
{
    public static TheoryData<string, Segmentation> Cases() => SolixMessages.CorpusCases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Corpus_message_obeys_its_canary_rules_in_topic_envelope_and_binary(string id, Segmentation segmentation)
    {
        var message = SolixMessages.ById(id);
        var (result, raw) = SolixMessages.Run(TestPolicies.Default, message.Topic, message.Payload, segmentation);
        var outputs = raw.Select(SolixMessages.Decode).ToList();

        Assert.False(result.IsQuarantined, $"{id} was quarantined as {result.QuarantineReason.Id()}");
        Assert.Equal(["after-sales-service", "product-improvement"], outputs.Select(o => o.Purpose).Order());
        for (var o = 0; o < outputs.Count; o++)
        {
            var output = outputs[o];
            foreach (var (canary, index) in message.Canaries.Select((c, i) => (c, i)))
            {
                var leaked = CanaryScanner.Contains(Encoding.UTF8.GetBytes(raw[o].Payload), canary.Value)
                    || CanaryScanner.Contains(Encoding.UTF8.GetBytes(output.Topic), canary.Value)
                    || CanaryScanner.Contains(output.Binary, canary.Value);
                var allowed = !canary.IsNever && canary.OnlyPurposes.Contains(output.Purpose);
                Assert.False(leaked && !allowed, $"{id}: canary #{index} ({canary.Rule}) reached the {output.Purpose} output");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void After_sales_output_keeps_the_serial_in_topic_head_payload_and_binary(string id, Segmentation segmentation)
    {
        var message = SolixMessages.ById(id);
        var serial = message.Topic.Split('/')[3];
        var inputBinary = SolixMessages.BinaryOf(message.Payload);
        var service = SolixMessages.Outputs(TestPolicies.Default, message, segmentation, out _).Single(o => o.Purpose == "after-sales-service");

        Assert.Equal(message.Topic, service.Topic);
        Assert.Equal(serial, service.ClientId);
        Assert.Equal(serial, service.Sn);
        if (inputBinary.AsSpan().IndexOf(Encoding.ASCII.GetBytes(serial)) >= 0)
        {
            Assert.True(service.Binary.AsSpan().IndexOf(Encoding.ASCII.GetBytes(serial)) >= 0, $"{id}: the serial left the binary");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_output_is_a_valid_solix_message_of_the_input_type(string id, Segmentation segmentation)
    {
        var message = SolixMessages.ById(id);
        var type = Convert.ToUInt16(SolixMessages.TypeOf(message), 16);
        foreach (var output in SolixMessages.Outputs(TestPolicies.Default, message, segmentation, out _))
        {
            SolixMessages.AssertValid(output.Binary, type, $"{id} {output.Purpose}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Device_has_one_same_length_pseudonym_across_topic_head_payload_and_binary(string id, Segmentation segmentation)
    {
        var message = SolixMessages.ById(id);
        var serial = message.Topic.Split('/')[3];
        var inputBinary = SolixMessages.BinaryOf(message.Payload);
        var improvement = SolixMessages.Outputs(TestPolicies.Default, message, segmentation, out _).Single(o => o.Purpose == "product-improvement");

        var pseudonym = improvement.Topic.Split('/')[3];
        Assert.NotEqual(serial, pseudonym);
        Assert.Equal(serial.Length, pseudonym.Length);
        Assert.All(pseudonym, c => Assert.True(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c)));
        Assert.Equal(pseudonym, improvement.ClientId);
        Assert.Equal(pseudonym, improvement.Sn);
        var serialInBinary = inputBinary.AsSpan().IndexOf(Encoding.ASCII.GetBytes(serial));
        var keptFields = SolixMessages.AssertValid(improvement.Binary, Convert.ToUInt16(SolixMessages.TypeOf(message), 16), id);
        if (serialInBinary >= 0 && keptFields.Contains(inputBinary[FieldStartBefore(inputBinary, serialInBinary)]))
        {
            Assert.True(improvement.Binary.AsSpan().IndexOf(Encoding.ASCII.GetBytes(pseudonym)) >= 0, $"{id}: the binary's serial is not the topic's pseudonym");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Outputs_are_the_same_for_every_segmentation_of_the_input(string id, Segmentation segmentation)
    {
        var message = SolixMessages.ById(id);
        var (_, expected) = SolixMessages.Run(TestPolicies.Default, message.Topic, message.Payload, Segmentation.SingleSegment);
        var (_, actual) = SolixMessages.Run(TestPolicies.Default, message.Topic, message.Payload, segmentation);

        Assert.Equal(expected, actual);
    }

    /// <summary>The offset of the field byte of the field that holds <paramref name="offset"/> (by walking the fields).</summary>
    private static int FieldStartBefore(byte[] binary, int offset)
    {
        var at = binary.Length > 10 && binary[9] is not (>= 0xA0 and <= 0xA9) ? 10 : 9;
        while (at + 2 + binary[at + 1] <= offset)
        {
            at += 2 + binary[at + 1];
        }
        return at;
    }
}

/// <summary>The collection of <see cref="SolixCorpusTests"/>: not run in parallel with anything else.</summary>
[CollectionDefinition(nameof(SolixCorpusCollection), DisableParallelization = true)]
public sealed class SolixCorpusCollection;
