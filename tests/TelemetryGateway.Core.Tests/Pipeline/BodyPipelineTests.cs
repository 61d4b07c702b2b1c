using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Buffers;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Images;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Pipeline;

/// <summary>
/// A body whose stream purpose is known (an HTTP upload) goes through the same pipeline as a message on a topic: the
/// same gates, the same rewrite and the same records, the records only once the body was forwarded.
/// </summary>
public sealed class BodyPipelineTests
{
    public static TheoryData<string, int> CorpusBodies()
    {
        var data = new TheoryData<string, int>();
        foreach (var message in Support.Corpus.Messages.Where(m => !m.IsBad && (m.Id.EndsWith("-commissioning", StringComparison.Ordinal) || m.Id.EndsWith("-log", StringComparison.Ordinal))))
        {
            // Block sizes for a streamed body: one byte at a time, uneven small blocks, the whole body at once.
            foreach (var blockSize in new[] { 1, 7, int.MaxValue })
            {
                data.Add(message.Id, blockSize);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusBodies))]
    public void A_body_gets_the_output_and_records_its_message_gets(string id, int blockSize)
    {
        var message = Support.Corpus.Messages.Single(m => m.Id == id);
        var (topicPolicy, bodyPolicy) = (Fresh(), Fresh());
        using var topicMinimizer = new Minimizer(topicPolicy, TestPolicies.Key);
        using var bodyMinimizer = new Minimizer(bodyPolicy, TestPolicies.Key);

        var result = topicMinimizer.Minimize(message.Topic, new ReadOnlySequence<byte>(message.Payload));
        var output = Assert.Single(result.Outputs.ToArray());
        var stream = bodyPolicy.Streams.Single(s => s.Name == result.Stream!.Name);
        var body = MinimizeBody(bodyMinimizer, stream, Device(message.Topic, result.Stream!), message.Payload, blockSize);
        bodyMinimizer.RecordForwarded();

        Assert.Equal(Encoding.UTF8.GetString(output.Payload.Span), Encoding.UTF8.GetString(body));
        Assert.Equal(Records(result.Stream!.Purposes[0]), Records(stream.Purposes[0]));
    }

    [Fact]
    public void A_body_is_recorded_only_once_it_was_forwarded()
    {
        var policy = Fresh();
        var stream = policy.Streams.Single(s => s.Name == "commissioning");
        using var minimizer = new Minimizer(policy, TestPolicies.Key);
        var payload = Support.Corpus.Messages.First(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal)).Payload;

        MinimizeBody(minimizer, stream, "SN1", payload, int.MaxValue);
        var before = Records(stream.Purposes[0]);
        minimizer.RecordForwarded();

        Assert.All(before, count => Assert.Equal(0, count));
        Assert.Equal(1, stream.Purposes[0].Counters[ProcessingAction.Forwarded]);
        Assert.True(stream.Purposes[0].Counters[ProcessingAction.Dropped] > 0);
    }

    [Fact]
    public void A_log_line_cut_at_its_limit_is_recorded_as_dropped_on_both_paths()
    {
        var (topicPolicy, bodyPolicy) = (Fresh(), Fresh());
        var log = Encoding.UTF8.GetBytes("INFO " + new string('x', 100_000) + "\nINFO ok\n");
        using var topicMinimizer = new Minimizer(topicPolicy, TestPolicies.Key);
        using var bodyMinimizer = new Minimizer(bodyPolicy, TestPolicies.Key);
        var stream = bodyPolicy.Streams.Single(s => s.Name == "log");

        topicMinimizer.Minimize("dt/anker_power/A17C0/SN1/log", new ReadOnlySequence<byte>(log));
        MinimizeBody(bodyMinimizer, stream, "SN1", log, 4096);
        bodyMinimizer.RecordForwarded();

        var topicPurpose = topicPolicy.Streams.Single(s => s.Name == "log").Purposes[0];
        Assert.Equal(1, topicPurpose.Counters[ProcessingAction.Dropped]);
        Assert.Equal(Records(topicPurpose), Records(stream.Purposes[0]));
    }

    [Theory]
    [MemberData(nameof(Segments.All), MemberType = typeof(Segments))]
    public void A_truncated_json_body_is_quarantined_as_malformed(Segmentation segmentation)
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "commissioning");
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var output = new PooledBufferWriter();
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));

        var reason = minimizer.MinimizeBody(Segments.Split("""{"device":{"pn":"A1"""u8, segmentation), isFinalBlock: true, output);

        Assert.Equal(QuarantineReason.MalformedJson, reason);
        Assert.Throws<InvalidOperationException>(minimizer.RecordForwarded);
    }

    [Theory]
    [InlineData("commissioning")]
    [InlineData("log")]
    public void An_empty_body_is_quarantined_as_empty(string streamName)
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == streamName);
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var output = new PooledBufferWriter();
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));

        Assert.Equal(QuarantineReason.Empty, minimizer.MinimizeBody(ReadOnlySequence<byte>.Empty, isFinalBlock: true, output));
    }

    [Fact]
    public void A_json_body_must_be_presented_whole()
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "commissioning");
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var output = new PooledBufferWriter();
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));

        Assert.Throws<InvalidOperationException>(() => minimizer.MinimizeBody(new ReadOnlySequence<byte>("{"u8.ToArray()), isFinalBlock: false, output));
    }

    [Fact]
    public void The_gates_refuse_a_body_as_they_refuse_a_message_and_count_it_the_same()
    {
        var policy = Fresh();
        var stream = policy.Streams.Single(s => s.Name == "settings");
        using var minimizer = new Minimizer(policy, TestPolicies.Key);

        var refusal = minimizer.BeginBody(stream, stream.Purposes[0], "SN1");

        Assert.Equal(ProcessingAction.NoConsent, refusal);
        Assert.Equal(1, stream.Purposes[0].Counters[ProcessingAction.NoConsent]);
    }

    [Fact]
    public void A_purpose_of_another_policy_is_refused_as_a_programming_error()
    {
        var other = Fresh().Streams.Single(s => s.Name == "commissioning");
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);

        Assert.Throws<ArgumentException>(() => minimizer.BeginBody(other, other.Purposes[0], "SN1"));
    }

    [Theory]
    [InlineData("jpeg", 1)]
    [InlineData("jpeg", 4096)]
    [InlineData("png", 1)]
    [InlineData("png", 4096)]
    public void A_photo_is_stripped_the_same_as_a_body_and_as_a_message(string kind, int blockSize)
    {
        using var images = new TestImageFiles();
        var image = kind == "jpeg" ? images.Jpeg : images.Png;
        var (topicPolicy, bodyPolicy) = (Fresh(), Fresh());
        using var topicMinimizer = new Minimizer(topicPolicy, TestPolicies.Key);
        using var bodyMinimizer = new Minimizer(bodyPolicy, TestPolicies.Key);
        var stream = bodyPolicy.Streams.Single(s => s.Name == "installation-photos");

        var result = topicMinimizer.Minimize("app/installer-1/photos/SN1", new ReadOnlySequence<byte>(image));
        var body = MinimizeBody(bodyMinimizer, stream, "SN1", image, blockSize);
        bodyMinimizer.RecordForwarded();

        var output = Assert.Single(result.Outputs.ToArray());
        Assert.Equal(output.Payload.ToArray(), body);
        Assert.True(body.Length < image.Length);
        foreach (var canary in ImageTools.Canaries)
        {
            Assert.False(CanaryScanner.Contains(body, canary), "a metadata canary remains");
        }
        Assert.True(stream.Purposes[0].Counters[ProcessingAction.Dropped] > 0);
        Assert.Equal(Records(result.Stream!.Purposes[0]), Records(stream.Purposes[0]));
    }

    [Theory]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38 }, QuarantineReason.ImageWrongSignature)]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF }, QuarantineReason.ImageTruncated)]
    public void A_body_that_is_not_a_whole_jpeg_or_png_is_quarantined(byte[] body, QuarantineReason expected)
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "installation-photos");
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var output = new PooledBufferWriter();
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));

        Assert.Equal(expected, minimizer.MinimizeBody(new ReadOnlySequence<byte>(body), isFinalBlock: true, output));
    }

    [Fact]
    public void Streaming_a_log_body_allocates_nothing_in_steady_state()
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "log");
        var logs = Support.Corpus.Messages.Where(m => !m.IsBad && m.Id.EndsWith("-log", StringComparison.Ordinal)).Select(m => m.Payload).ToArray();
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        using var output = new PooledBufferWriter(1 << 20);

        var quarantined = 0;
        StreamLogs();
        var allocated = Allocations.SteadyState(StreamLogs);

        Assert.Equal(0, quarantined);
        Assert.Equal(0, allocated);

        void StreamLogs()
        {
            foreach (var log in logs)
            {
                output.Reset();
                minimizer.BeginBody(stream, stream.Purposes[0], "AZV6Y60D33200788");
                var half = log.Length / 2;
                // Counted, not asserted here: an assertion may allocate.
                quarantined += minimizer.MinimizeBody(new ReadOnlySequence<byte>(log, 0, half), isFinalBlock: false, output) == QuarantineReason.None ? 0 : 1;
                quarantined += minimizer.MinimizeBody(new ReadOnlySequence<byte>(log, half, log.Length - half), isFinalBlock: true, output) == QuarantineReason.None ? 0 : 1;
                minimizer.RecordForwarded();
            }
        }
    }

    /// <summary>A policy of its own, so its counters start at zero and count only this test.</summary>
    private static CompiledPolicy Fresh() => PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);

    private static long[] Records(StreamPurpose purpose) => [.. Enum.GetValues<ProcessingAction>().Select(a => purpose.Counters[a])];

    /// <summary>The device capture of <paramref name="topic"/> under <paramref name="stream"/>, as the classify step finds it.</summary>
    private static string Device(string topic, CompiledStream stream)
    {
        var captures = new Range[8];
        Assert.NotNull(TestPolicies.Default.Match(topic, captures));
        return stream.DeviceCapture >= 0 ? topic[captures[stream.DeviceCapture]] : "";
    }

    private static byte[] MinimizeBody(Minimizer minimizer, CompiledStream stream, string device, byte[] payload, int blockSize)
    {
        using var output = new PooledBufferWriter();
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], device));
        if (!stream.Format.Streams())
        {
            Assert.Equal(QuarantineReason.None, minimizer.MinimizeBody(Segments.Split(payload, blockSize == 1 ? Segmentation.OneBytePerSegment : Segmentation.MultiSegment), isFinalBlock: true, output));
            return output.WrittenMemory.ToArray();
        }
        for (var offset = 0; offset < payload.Length; offset += blockSize)
        {
            var length = (int)Math.Min(blockSize, payload.Length - (long)offset);
            var final = offset + length == payload.Length;
            Assert.Equal(QuarantineReason.None, minimizer.MinimizeBody(new ReadOnlySequence<byte>(payload, offset, length), final, output));
        }
        return output.WrittenMemory.ToArray();
    }
}

/// <summary>A body read whole is bounded like a message of its stream.</summary>
public sealed class BodyLimitTests
{
    [Fact]
    public void A_JSON_body_over_the_policys_message_bound_is_too_large_as_over_MQTT()
    {
        using var minimizer = new Minimizer(TestPolicies.Default, TestPolicies.Key);
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "commissioning");
        var body = Encoding.UTF8.GetBytes("{\"note\":\"" + new string('x', TestPolicies.Default.Limits.MaxPayloadBytes) + "\"}");

        Assert.True(minimizer.Minimize("app/installer-1/commissioning/SN1", new ReadOnlySequence<byte>(body)).QuarantineReason == QuarantineReason.TooLarge);
        Assert.Null(minimizer.BeginBody(stream, stream.Purposes[0], "SN1"));
        using var output = new PooledBufferWriter();
        Assert.Equal(QuarantineReason.TooLarge, minimizer.MinimizeBody(new ReadOnlySequence<byte>(body), isFinalBlock: true, output));
        Assert.True(output.WrittenMemory.IsEmpty);
    }
}
