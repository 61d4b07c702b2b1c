using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Mqtt.Rights;

namespace TelemetryGateway.Mqtt.Tests.Rights;

/// <summary>The consent message body: strict JSON, every problem reported, the same on one segment, several, or one byte each.</summary>
public sealed class ConsentMessageTests
{
    public static TheoryData<int> Segmentations() => new() { 0, 7, 1 };

    [Theory]
    [MemberData(nameof(Segmentations))]
    public void A_well_formed_objection_to_all_legitimate_interest_purposes_is_read(int segmentLength)
    {
        var (action, purposes, all, notice, errors) = ConsentMessage.Parse(Split(
            """{"action":"object","purposes":["marketing"],"allLegitimateInterest":true,"noticeVersion":"2025-09-26"}""", segmentLength));

        Assert.Empty(errors);
        Assert.Equal((ChoiceAction.Objection, PurposeSet.Empty.With(Purpose.Marketing), true, "2025-09-26"), (action, purposes, all, notice));
    }

    [Theory]
    [MemberData(nameof(Segmentations))]
    public void Every_problem_is_reported_at_once_without_echoing_values(int segmentLength)
    {
        var (_, _, _, _, errors) = ConsentMessage.Parse(Split(
            """{"action":"agree","purposes":["personalization","SERIALCANARY0001"],"noticeVersion":3,"owner@example.com":1,"action":"grant"}""", segmentLength));

        Assert.Equal(
            [
                "action: one of grant, withdraw, object, lift-objection, restrict, lift-restriction",
                "purposes: each must be a purpose id of the notice's section 4 (e.g. personalization)",
                "noticeVersion: wrong type",
                "(a property): unknown property",
                "action: given twice",
            ],
            errors);
        Assert.DoesNotContain(errors, e => e.Contains("SERIALCANARY0001", StringComparison.Ordinal) || e.Contains("example.com", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Segmentations))]
    public void Truncated_json_and_trailing_content_are_errors(int segmentLength)
    {
        Assert.Contains("body: not well-formed JSON", ConsentMessage.Parse(Split("""{"action":"grant","purp""", segmentLength)).Errors);
        Assert.Contains("body: not well-formed JSON", ConsentMessage.Parse(Split("""{"action":"grant"} {}""", segmentLength)).Errors);
        Assert.Contains("body: a JSON object is expected", ConsentMessage.Parse(Split("""["grant"]""", segmentLength)).Errors);
    }

    [Fact]
    public void A_body_larger_than_the_limit_is_refused_unread()
    {
        var errors = ConsentMessage.Parse(new ReadOnlySequence<byte>(new byte[ConsentMessage.MaxBytes + 1])).Errors;

        Assert.Equal([$"body: larger than {ConsentMessage.MaxBytes} bytes"], errors);
    }

    /// <summary>The body as one segment (0), or as segments of <paramref name="length"/> bytes.</summary>
    private static ReadOnlySequence<byte> Split(string text, int length)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (length == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }
        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < bytes.Length; offset += length)
        {
            var segment = new Segment(bytes.AsMemory(offset, Math.Min(length, bytes.Length - offset)), offset);
            first ??= segment;
            last?.Append(segment);
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void Append(Segment next) => Next = next;
    }
}
