using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Ingress;
using TelemetryGateway.Mqtt.Tests.Support;
using TelemetryGateway.Mqtt.Upstream;
using TelemetryGateway.Proto.Telemetry.V1;

namespace TelemetryGateway.Mqtt.Tests.Upstream;

/// <summary>
/// Batching for the cloud (<c>Gateway:Upstream:Batch</c>): when a batch is sent (count, bytes, linger, and with
/// SendWhenIdle as acknowledgements come back), what goes in one batch (one purpose and its tags), what a batch decodes
/// to, and what each output learns from its batch's answer. The linger's timer is fired by hand; nothing here depends on
/// timing. Most tests collect with SendWhenIdle off, so that only count, bytes and linger send a batch.
/// </summary>
public sealed class UpstreamBatcherTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_batch_is_sent_as_soon_as_it_holds_MaxOutputs()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 4 });

        var results = Enumerable.Range(0, 5).Select(i => Add(batcher, Output(i))).ToList();

        var batch = Assert.Single(sink.Sent);
        Assert.Equal(4, batch.Count);
        Assert.Equal(4, Decode(batch).Envelopes.Count);
        // The fifth starts the next batch, which waits for its linger.
        Assert.Equal(1, sink.Timers.Armed);
        sink.Answer(batch, PublishResult.Acknowledged);
        Assert.All(results.Take(4), r => Assert.Equal(PublishOutcome.Acknowledged, Done(r).Outcome));
        Assert.False(results[4].IsCompleted);
    }

    [Fact]
    public void A_batch_is_sent_before_an_output_would_take_it_past_MaxBytes()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 100, MaxBytes = 1024 });

        // Elements of equal size, a few hundred bytes each: a batch is sent when the next one would not fit.
        for (var i = 0; i < 10; i++)
        {
            Add(batcher, Output(i, payloadBytes: 150));
        }
        sink.Timers.FireAll();

        Assert.True(sink.Sent.Count >= 3, $"{sink.Sent.Count} batches");
        var element = sink.Sent[0].Length / sink.Sent[0].Count;
        Assert.All(sink.Sent, b => Assert.True(b.Length <= 1024, $"{b.Length} bytes"));
        Assert.All(sink.Sent.SkipLast(1), b => Assert.True(b.Length + element > 1024, $"{b.Length} bytes with room for another"));
        Assert.Equal(10, sink.Sent.Sum(b => b.Count));
        Assert.Equal(10, sink.Sent.Sum(b => Decode(b).Envelopes.Count));
    }

    [Fact]
    public void A_batch_is_sent_when_its_linger_passes()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, Linger = TimeSpan.FromMilliseconds(7) });

        var first = Add(batcher, Output(0));
        var second = Add(batcher, Output(1));

        Assert.Empty(sink.Sent);
        Assert.Equal([TimeSpan.FromMilliseconds(7)], sink.Timers.DueTimes);
        sink.Timers.FireAll();
        var batch = Assert.Single(sink.Sent);
        Assert.Equal(2, batch.Count);
        Assert.False(first.IsCompleted);
        sink.Answer(batch, PublishResult.Acknowledged);
        Assert.Equal(PublishOutcome.Acknowledged, Done(second).Outcome);
    }

    [Fact]
    public void With_SendWhenIdle_a_lone_output_goes_at_once_without_waiting_for_its_linger()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true });

        var result = Add(batcher, Output(0));

        var batch = Assert.Single(sink.Sent);
        Assert.Equal(1, batch.Count);
        Assert.Equal(0, sink.Timers.Armed);
        sink.Answer(batch, PublishResult.Acknowledged);
        Assert.Equal(PublishOutcome.Acknowledged, Done(result).Outcome);
    }

    [Fact]
    public void With_SendWhenIdle_outputs_collect_while_a_batch_is_in_flight_and_go_when_it_is_answered()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true });

        Add(batcher, Output(0));
        var waiting = Enumerable.Range(1, 3).Select(i => Add(batcher, Output(i))).ToList();
        var other = Add(batcher, Output(4, purpose: "product-improvement"));

        // The second purpose has nothing in flight, so its output went at once too; the first purpose's three wait.
        Assert.Equal([1, 1], sink.Sent.Select(b => b.Count));
        sink.Answer(sink.Sent[0], PublishResult.Acknowledged);

        Assert.Equal(3, sink.Sent.Count);
        Assert.Equal(3, sink.Sent[2].Count);
        Assert.All(waiting, r => Assert.False(r.IsCompleted));
        sink.Answer(sink.Sent[2], PublishResult.Acknowledged);
        Assert.All(waiting, r => Assert.Equal(PublishOutcome.Acknowledged, Done(r).Outcome));
        Assert.False(other.IsCompleted);
    }

    [Fact]
    public void With_SendWhenIdle_the_linger_and_MaxOutputs_still_bound_a_batch_while_another_is_in_flight()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, MaxOutputs = 3 });

        Add(batcher, Output(0));
        for (var i = 1; i <= 4; i++)
        {
            Add(batcher, Output(i));
        }

        // The first went alone; the next three filled a batch; the fifth waits for its linger, not for an answer.
        Assert.Equal([1, 3], sink.Sent.Select(b => b.Count));
        sink.Timers.FireAll();
        Assert.Equal([1, 3, 1], sink.Sent.Select(b => b.Count));
        // Answers coming back now find nothing collected: no empty batch is sent.
        foreach (var batch in sink.Sent.ToList())
        {
            sink.Answer(batch, PublishResult.Acknowledged);
        }
        Assert.Equal(3, sink.Sent.Count);
    }

    [Fact]
    public void With_SendWhenIdle_a_batch_not_acknowledged_still_lets_the_next_one_go()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true });

        var first = Add(batcher, Output(0));
        var second = Add(batcher, Output(1));
        sink.Answer(sink.Sent[0], PublishResult.ConnectionLost);

        Assert.Equal(PublishOutcome.Transient, Done(first).Outcome);
        Assert.Equal(2, sink.Sent.Count);
        sink.Answer(sink.Sent[1], PublishResult.Acknowledged);
        Assert.Equal(PublishOutcome.Acknowledged, Done(second).Outcome);
    }

    [Fact]
    public async Task With_the_system_clock_a_lone_output_goes_out_after_its_linger()
    {
        var sent = new TaskCompletionSource<OutgoingBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var batcher = new UpstreamBatcher(
            new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false }, "telemetry", b =>
            {
                sent.TrySetResult(b);
                return Task.FromResult(PublishResult.Acknowledged);
            }, () => 0, TimeProvider.System, NullLogger.Instance);

        Assert.True(batcher.TryAdd(Output(0), out var result));

        Assert.Equal(1, (await sent.Task.WaitAsync(s_bound)).Count);
        Assert.Equal(PublishOutcome.Acknowledged, (await result.WaitAsync(s_bound)).Outcome);
    }

    [Fact]
    public void Outputs_of_different_purposes_or_tags_go_in_different_batches_on_their_purposes_topics()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false });

        Add(batcher, Output(0, purpose: "after-sales-service"));
        Add(batcher, Output(1, purpose: "product-improvement"));
        Add(batcher, Output(2, purpose: "after-sales-service"));
        Add(batcher, Output(3, purpose: "after-sales-service", region: "us", safeguard: "scc"));
        Add(batcher, Output(4, purpose: "product-improvement", legalBasis: "consent"));
        sink.Timers.FireAll();

        var batches = sink.Sent.OrderBy(b => b.Topic, StringComparer.Ordinal).ThenBy(b => b.First.Region, StringComparer.Ordinal).ThenBy(b => b.First.LegalBasis, StringComparer.Ordinal).ToList();
        Assert.Equal(4, batches.Count);
        foreach (var batch in batches)
        {
            var envelopes = Decode(batch).Envelopes;
            Assert.All(envelopes, e => Assert.Equal(batch.First.Purpose, e.Purpose));
            Assert.All(envelopes, e => Assert.Equal(batch.First.LegalBasis, e.LegalBasis));
            Assert.All(envelopes, e => Assert.Equal(batch.First.Region, e.DestinationRegion));
            Assert.Equal($"telemetry/{batch.First.Purpose}/batch", batch.Topic);
        }
        Assert.Equal([2, 1, 1, 1], batches.Select(b => b.Count));
    }

    [Fact]
    public void The_decoded_batch_has_every_element_with_its_own_tags_payload_time_and_topic()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false });
        var outputs = Enumerable.Range(0, 5).Select(i => Output(i, stream: i % 2 == 0 ? "status" : "firmware")).ToList();

        foreach (var output in outputs)
        {
            Add(batcher, output);
        }
        sink.Timers.FireAll();

        var batch = Assert.Single(sink.Sent);
        var decoded = Decode(batch).Envelopes;
        Assert.Equal(outputs.Count, decoded.Count);
        for (var i = 0; i < outputs.Count; i++)
        {
            // Each element is the stored envelope as it was, with the output's topic added.
            var expected = Envelope.Parser.ParseFrom(outputs[i].Payload);
            expected.Topic = outputs[i].Topic;
            Assert.Equal(expected, decoded[i]);
        }
        Assert.Equal(["status", "firmware", "status", "firmware", "status"], decoded.Select(e => e.Stream));
        Assert.Equal(outputs.Select(o => o.Topic), decoded.Select(e => e.Topic));
    }

    [Fact]
    public void Every_output_waits_for_its_batch_and_a_batch_not_acknowledged_fails_each_output_transiently()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 3 });

        var results = Enumerable.Range(0, 3).Select(i => Add(batcher, Output(i))).ToList();

        var batch = Assert.Single(sink.Sent);
        Assert.All(results, r => Assert.False(r.IsCompleted));
        sink.Answer(batch, PublishResult.ConnectionLost);
        Assert.All(results, r => Assert.Equal(PublishResult.ConnectionLost, Done(r)));
        Assert.Equal(1, batcher.BatchesSent);
    }

    [Fact]
    public void A_rejected_batch_fails_its_outputs_transiently_and_its_purpose_goes_alone_for_a_while()
    {
        var sink = new BatchSink();
        var logger = new RecordingLogger<UpstreamBatcher>();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 2 }, logger: logger);

        var results = Enumerable.Range(0, 2).Select(i => Add(batcher, Output(i))).ToList();
        sink.Answer(Assert.Single(sink.Sent), PublishResult.FromReasonCode(MQTTnet.MqttClientPublishReasonCode.NotAuthorized));

        // Not dead letters: the batch, not the output, may be what the upstream refused.
        Assert.All(results, r => Assert.Equal(new PublishResult(PublishOutcome.Transient, "batch-rejected"), Done(r)));
        Assert.Equal(1, logger.Count(EventIds.BatchRejected));
        Assert.DoesNotContain("SERIAL", logger.Text, StringComparison.Ordinal);
        Assert.False(batcher.TryAdd(Output(2), out _));
        Assert.True(batcher.TryAdd(Output(3, purpose: "product-improvement"), out _));

        sink.Timers.Advance(UpstreamBatcher.AloneAfterRejection);
        Assert.True(batcher.TryAdd(Output(4), out _));
    }

    [Fact]
    public void Aggregates_outputs_without_an_envelope_and_outputs_too_large_for_a_batch_go_alone()
    {
        var sink = new BatchSink { MaxPacketSize = 4096 };
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxBytes = 64 * 1024 });

        Assert.False(batcher.TryAdd(Output(0) with { Aggregate = new AggregateTags("2026-12-03T15:00:00Z/PT1H", 10, "none") }, out _));
        Assert.False(batcher.TryAdd(Output(1) with { ContentType = "application/json" }, out _));
        // The upstream's maximum packet of 4,096 bytes lowers the batch's limit below 64 KiB.
        Assert.False(batcher.TryAdd(Output(2, payloadBytes: 3500), out _));
        Assert.True(batcher.TryAdd(Output(3, payloadBytes: 1000), out _));
        Assert.Empty(sink.Sent);
    }

    [Fact]
    public void Disposing_fails_the_batches_not_yet_sent()
    {
        var sink = new BatchSink();
        var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false });
        var result = Add(batcher, Output(0));

        batcher.Dispose();

        Assert.Equal(PublishResult.ConnectionLost, Done(result));
        Assert.Empty(sink.Sent);
        Assert.False(batcher.TryAdd(Output(1), out _));
    }

    [Fact]
    public async Task Outputs_added_from_many_threads_each_land_in_exactly_one_batch_in_the_order_added_per_thread()
    {
        const int threads = 4;
        const int perThread = 500;
        var sent = new ConcurrentQueue<EnvelopeBatch>();
        using var batcher = new UpstreamBatcher(
            new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 16 }, "telemetry", b =>
            {
                sent.Enqueue(EnvelopeBatch.Parser.ParseFrom(b.Buffer, 0, b.Length));
                return Task.FromResult(PublishResult.Acknowledged);
            }, () => 0, TimeProvider.System, NullLogger.Instance);

        var adding = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            var results = new List<Task<PublishResult>>(perThread);
            for (var i = 0; i < perThread; i++)
            {
                Assert.True(batcher.TryAdd(Output((t * perThread) + i, purpose: t % 2 == 0 ? "after-sales-service" : "product-improvement"), out var result));
                results.Add(result);
            }
            return results;
        })).ToList();
        var all = (await Task.WhenAll(adding).WaitAsync(s_bound)).SelectMany(r => r).ToList();
        var outcomes = await Task.WhenAll(all).WaitAsync(s_bound);

        Assert.All(outcomes, o => Assert.Equal(PublishOutcome.Acknowledged, o.Outcome));
        var topics = sent.SelectMany(b => b.Envelopes).Select(e => e.Topic).ToList();
        Assert.Equal(threads * perThread, topics.Count);
        Assert.Equal(threads * perThread, topics.Distinct(StringComparer.Ordinal).Count());
        Assert.All(sent, b => Assert.InRange(b.Envelopes.Count, 1, 16));
        // Batches of one key are sent in the order they were sealed: each thread's outputs arrive in its order.
        for (var t = 0; t < threads; t++)
        {
            var mine = topics.Where(topic => Index(topic) / perThread == t).Select(Index).ToList();
            Assert.Equal(mine.Order(), mine);
        }
    }

    private static int Index(string topic) => int.Parse(topic.AsSpan(topic.IndexOf("pseudonym", StringComparison.Ordinal) + 9, 4), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Adding_an_output_to_a_batch_allocates_nothing()
    {
        var sink = new BatchSink();
        using var batcher = sink.Batcher(new UpstreamBatchOptions { Enabled = true, SendWhenIdle = false, MaxOutputs = 1000, MaxBytes = 1024 * 1024 });
        // As many outputs as fit the batch's first buffer (16 KiB), so the buffer rented by the first element is the only
        // one: a buffer grown while counting would come from the shared pool, which a GC elsewhere in the test run may
        // have trimmed. Warm up: the purpose's batch made and sent twice; the first element of a batch makes the batch's
        // one task and rents its buffer, so the count starts after it.
        var outputs = Enumerable.Range(0, 60).Select(i => Output(i)).ToList();
        for (var round = 0; round < 2; round++)
        {
            foreach (var output in outputs)
            {
                Add(batcher, output);
            }
            sink.Timers.FireAll();
            sink.Answer(sink.Sent[^1], PublishResult.Acknowledged);
        }
        Add(batcher, outputs[0]);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i < outputs.Count; i++)
        {
            batcher.TryAdd(outputs[i], out _);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static Task<PublishResult> Add(UpstreamBatcher batcher, UpstreamMessage output)
    {
        Assert.True(batcher.TryAdd(output, out var result));
        return result;
    }

    /// <summary>The result of an output's task, which must be complete.</summary>
    private static PublishResult Done(Task<PublishResult> task)
    {
        Assert.True(task.IsCompletedSuccessfully);
        return task.GetAwaiter().GetResult();
    }

    private static EnvelopeBatch Decode(OutgoingBatch batch) => EnvelopeBatch.Parser.ParseFrom(batch.Buffer, 0, batch.Length);

    private static UpstreamMessage Output(
        int i, string purpose = "after-sales-service", string legalBasis = "contract", string region = "eea", string safeguard = "none",
        string stream = "status", int payloadBytes = 40)
    {
        var envelope = new Envelope
        {
            Purpose = purpose,
            LegalBasis = legalBasis,
            Policy = "solix-default@1+sha256.abc",
            Retention = "P2Y",
            ContentType = "application/json",
            Payload = ByteString.CopyFrom(new byte[payloadBytes]),
            GatewayId = "gw-1",
            ReceivedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 3, 15, 0, i % 60, TimeSpan.Zero)),
            Stream = stream,
            DestinationRegion = region,
            TransferSafeguard = safeguard,
        };
        envelope.Categories.Add("device");
        return new UpstreamMessage(
            $"telemetry/{purpose}/dt/anker_power/A17C0/pseudonym{i:D4}/{stream}", envelope.ToByteArray(), UpstreamEncoder.EnvelopeContentType,
            purpose, legalBasis, "device", envelope.Policy, "P2Y", 63_072_000, stream, "", null, region, safeguard);
    }

    /// <summary>Records the batches sent; each one's answer is given by the test.</summary>
    private sealed class BatchSink
    {
        private readonly ConcurrentDictionary<OutgoingBatch, TaskCompletionSource<PublishResult>> _answers = new();

        public List<OutgoingBatch> Sent { get; } = [];
        public HandTimers Timers { get; } = new();
        public long MaxPacketSize { get; init; }

        public UpstreamBatcher Batcher(UpstreamBatchOptions options, Microsoft.Extensions.Logging.ILogger? logger = null) =>
            new(options, "telemetry", Publish, () => MaxPacketSize, Timers, logger ?? NullLogger.Instance);

        public void Answer(OutgoingBatch batch, PublishResult result)
        {
            _answers[batch].SetResult(result);
            // The batcher completes the outputs once the publish's task is done; wait for it here (it runs inline).
            SpinWait.SpinUntil(() => batch.Completion.Task.IsCompleted, s_bound);
        }

        private Task<PublishResult> Publish(OutgoingBatch batch)
        {
            // Copied: the batcher returns the buffer to the pool when the publish ends.
            var copy = batch with { Buffer = batch.Buffer.AsSpan(0, batch.Length).ToArray() };
            lock (Sent)
            {
                Sent.Add(copy);
            }
            var answer = new TaskCompletionSource<PublishResult>();
            _answers[copy] = answer;
            _answers[batch] = answer;
            return answer.Task;
        }
    }
}

/// <summary>A clock whose timers fire only when the test says so, and whose time moves only by hand.</summary>
internal sealed class HandTimers : TimeProvider
{
    private readonly List<HandTimer> _timers = [];
    private long _ticks = new DateTimeOffset(2026, 12, 3, 15, 0, 0, TimeSpan.Zero).UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    /// <summary>Timers armed now.</summary>
    public int Armed => DueTimes.Count;

    /// <summary>The due time of each armed timer.</summary>
    public IReadOnlyList<TimeSpan> DueTimes
    {
        get
        {
            lock (_timers)
            {
                return [.. _timers.Where(t => t.Due != Timeout.InfiniteTimeSpan).Select(t => t.Due)];
            }
        }
    }

    /// <summary>Fires every armed timer once (on the calling thread).</summary>
    public void FireAll()
    {
        List<HandTimer> due;
        lock (_timers)
        {
            due = [.. _timers.Where(t => t.Due != Timeout.InfiniteTimeSpan)];
        }
        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new HandTimer(callback, state) { Due = dueTime };
        lock (_timers)
        {
            _timers.Add(timer);
        }
        return timer;
    }

    private sealed class HandTimer(TimerCallback callback, object? state) : ITimer
    {
        public TimeSpan Due { get; set; }

        public void Fire()
        {
            Due = Timeout.InfiniteTimeSpan;
            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime;
            return true;
        }

        public void Dispose() => Due = Timeout.InfiniteTimeSpan;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
