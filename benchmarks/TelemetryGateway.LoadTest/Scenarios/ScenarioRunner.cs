using System.Diagnostics;
using System.Globalization;
using TelemetryGateway.LoadTest.Devices;
using TelemetryGateway.LoadTest.Mqtt;
using TelemetryGateway.LoadTest.Processes;

namespace TelemetryGateway.LoadTest.Scenarios;

/// <summary>
/// Runs one scenario at one QoS level: fresh processes, the cloud subscriber, a warm-up probe until a message makes it
/// end to end, then all devices connected and released at once; then a bounded drain and the numbers.
/// </summary>
internal static class ScenarioRunner
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan WarmUpTimeout = TimeSpan.FromSeconds(20);

    public static async Task<(ScenarioResult Result, IReadOnlyList<string> Description)> RunAsync(
        ScenarioKind kind, BrokerTuning brokers, byte qos, int idleDevices, LoadTestOptions options, IReadOnlyList<StatusMessageTemplate> templates, TextWriter progress,
        int workers = 0)
    {
        await using var setup = await ScenarioSetup.StartAsync(kind, brokers, options, workers, progress);
        var devices = Enumerable.Range(0, options.Devices).Select(i => new SimulatedDevice(i, templates[i % templates.Count])).ToArray();
        var planned = (long)options.Devices * options.MessagesPerDevice;
        var subscriber = new CloudSubscriber((int)Math.Min(planned * setup.OutputsPerMessage, 10_000_000));
        using var lifetime = new CancellationTokenSource(options.DurationLimit + options.DrainTimeout + (3 * WarmUpTimeout) + TimeSpan.FromSeconds(60));
        var clients = new MinimalMqttClient?[devices.Length];
        var idle = new IdleDevice?[idleDevices];
        try
        {
            await subscriber.ConnectAsync(setup.SubscriberEndpoint, setup.TopicFilter, lifetime.Token);
            await ProbeAsync(setup, subscriber, devices[0], options, lifetime.Token);
            var idleMemory = await ConnectIdleDevicesAsync(setup, idle, progress, lifetime.Token);

            using var publishing = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
            await ConnectDevicesAsync(setup, devices, clients, options, publishing.Token);
            await WarmUpAsync(devices, clients, subscriber, qos, options);

            var cpu = CpuUsage.Start(setup.CpuMeters);
            var workerCpuStart = setup.WorkerCpu.Select(read => read()).ToArray();
            var clock = MeasurementClock.StartNow();
            subscriber.StartMeasurement(clock);
            publishing.CancelAfter(options.DurationLimit);
            var outcomes = await Task.WhenAll(devices.Select((device, i) => Task.Run(() => PublishAsync(device, clients[i]!, qos, options, clock))));
            var publishEnd = outcomes.Max(o => o.CompletedTimestamp);
            var messagesIn = outcomes.Sum(o => o.Completed);
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  published {messagesIn}/{planned} in {Stopwatch.GetElapsedTime(clock.OriginTimestamp, publishEnd).TotalSeconds:F2} s; draining"));

            var timedOut = await DrainAsync(subscriber, messagesIn * setup.OutputsPerMessage, clock, options);
            var cpuUsed = cpu.Stop();
            var workerCpu = setup.WorkerCpu.Select((read, i) => read() - workerCpuStart[i]).ToArray();
            await subscriber.StopAsync();

            var notes = new List<string>();
            var deviceErrors = outcomes.Where(o => o.Error is not null).ToArray();
            if (deviceErrors.Length > 0)
            {
                notes.Add($"{deviceErrors.Length} device(s) did not finish, e.g. {deviceErrors[0].Error}");
            }
            if (timedOut)
            {
                notes.Add($"stopped by the time bound ({options.DurationLimit.TotalSeconds:F0} s run + {options.DrainTimeout.TotalSeconds:F0} s drain)");
            }
            if (subscriber.WithoutTs > 0)
            {
                notes.Add($"{subscriber.WithoutTs} output(s) without a readable \"ts\" (no latency)");
            }
            if (subscriber.ConnectionError is { } subscriberError)
            {
                notes.Add($"cloud subscriber: {subscriberError}");
            }
            var idleGone = idle.Count(d => d is not null && !d.IsConnected);
            if (idleGone > 0)
            {
                notes.Add($"{idleGone} of {idle.Length} idle devices were disconnected during the run");
            }
            var failure = setup.Failure;
            if (failure is not null)
            {
                notes.Add(failure);
            }
            var latencies = subscriber.LatenciesMicros.ToArray();
            Array.Sort(latencies);
            var roundTrips = outcomes.SelectMany(o => o.RoundTripsMicros).ToArray();
            Array.Sort(roundTrips);
            var lastOutput = subscriber.LastReceivedTimestamp;
            var result = new ScenarioResult
            {
                Kind = kind,
                Brokers = brokers,
                Qos = qos,
                Workers = workers,
                WorkerCpu = workerCpu,
                MessagesPlanned = planned,
                MessagesIn = messagesIn,
                PublishElapsed = Stopwatch.GetElapsedTime(clock.OriginTimestamp, publishEnd),
                OutputsPerMessage = setup.OutputsPerMessage,
                OutputsReceived = subscriber.Received,
                Duplicates = subscriber.Duplicates,
                PublishesReceived = subscriber.Publishes,
                DeliveryElapsed = lastOutput == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(clock.OriginTimestamp, lastOutput),
                LatenciesMicros = latencies,
                RoundTripsMicros = roundTrips,
                ArrivalsPerBucket = [.. subscriber.ArrivalsPerBucket],
                IdleDevices = idle.Length,
                IdleMemory = idleMemory,
                CpuUsed = cpuUsed,
                Notes = notes,
                Failed = failure is not null || subscriber.Received == 0,
            };
            return (result, setup.Description);
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c!.DisposeAsync().AsTask()));
            foreach (var device in idle)
            {
                if (device is not null)
                {
                    await device.DisposeAsync();
                }
            }
            await subscriber.StopAsync();
        }
    }

    /// <summary>
    /// Connects the idle devices (64 handshakes at once) and returns the relay's resident memory before and after,
    /// measured once it has settled (5 s after the last connect); null without idle devices or a relay process.
    /// </summary>
    private static async Task<IdleMemory?> ConnectIdleDevicesAsync(ScenarioSetup setup, IdleDevice?[] idle, TextWriter progress, CancellationToken cancellationToken)
    {
        if (idle.Length == 0)
        {
            return null;
        }
        var before = setup.RelayWorkingSet?.Invoke();
        var started = Stopwatch.GetTimestamp();
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(idle.Select(async (_, i) =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                idle[i] = await IdleDevice.ConnectAsync(setup.DeviceEndpoint, string.Create(CultureInfo.InvariantCulture, $"idle-{i}"), ConnectTimeout, cancellationToken);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or MqttProtocolException or OperationCanceledException)
            {
                throw new StartFailedException($"{setup.Kind}: idle device {i} of {idle.Length} could not connect to {setup.DeviceEndpoint}: {e.Message}"
                    + (setup.Failure is { } failure ? $"; {failure}" : ""));
            }
            finally
            {
                gate.Release();
            }
        }));
        var connectTime = Stopwatch.GetElapsedTime(started);
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var after = setup.RelayWorkingSet?.Invoke();
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {idle.Length} idle devices connected in {connectTime.TotalSeconds:F1} s; relay resident memory {before / 1048576.0:F0} → {after / 1048576.0:F0} MiB"));
        return before is { } b && after is { } a ? new IdleMemory(b, a) : null;
    }

    /// <summary>
    /// Sends a probe status message (ts 0) every 250 ms until one output of it reaches the cloud subscriber (the bridge
    /// is connected, the gateway's upstream is up). Bounded by <see cref="WarmUpTimeout"/>.
    /// </summary>
    private static async Task ProbeAsync(
        ScenarioSetup setup, CloudSubscriber subscriber, SimulatedDevice template, LoadTestOptions options, CancellationToken cancellationToken)
    {
        await using var probe = await MinimalMqttClient.ConnectAsync(setup.DeviceEndpoint, "load-probe", options.Window, null, ConnectTimeout, cancellationToken);
        var payload = new byte[template.MaxPayloadLength];
        var length = template.WriteProbePayload(payload);
        var started = Stopwatch.GetTimestamp();
        while (subscriber.Probes == 0)
        {
            if (Stopwatch.GetElapsedTime(started) > WarmUpTimeout)
            {
                throw new StartFailedException(
                    $"{setup.Kind}: no warm-up message reached the cloud subscriber ('{setup.TopicFilter}' on {setup.SubscriberEndpoint}) within {WarmUpTimeout.TotalSeconds:F0} s"
                    + (setup.Failure is { } failure ? $"; {failure}" : ""));
            }
            await probe.AcquireAsync(1, 1);
            probe.AppendPublish(template.Topic, payload.AsSpan(0, length), 1);
            await probe.FlushAsync();
            await Task.Delay(250, cancellationToken);
        }
        await probe.DisconnectAsync();
    }

    /// <summary>
    /// Every device sends its share of the warm-up messages (ts 0, so the measurement ignores their outputs) the way it
    /// will publish in the run, so that the run starts in steady state: the JIT has compiled the hot paths to their final
    /// tier, pools and connections are warm. Waits until their outputs stop arriving (none for 500 ms). Bounded by
    /// <see cref="WarmUpTimeout"/>.
    /// </summary>
    private static async Task WarmUpAsync(
        SimulatedDevice[] devices, MinimalMqttClient?[] clients, CloudSubscriber subscriber, byte qos, LoadTestOptions options)
    {
        var perDevice = (options.WarmUpMessages + devices.Length - 1) / devices.Length;
        using var bound = new CancellationTokenSource(WarmUpTimeout);
        await Task.WhenAll(devices.Select((device, i) => Task.Run(async () =>
        {
            var client = clients[i]!;
            var payload = new byte[device.MaxPayloadLength];
            var length = device.WriteProbePayload(payload);
            for (var sent = 0; sent < perDevice && !bound.IsCancellationRequested;)
            {
                var count = await client.AcquireAsync(Math.Min(options.Window, perDevice - sent), qos);
                for (var m = 0; m < count; m++)
                {
                    client.AppendPublish(device.Topic, payload.AsSpan(0, length), qos);
                }
                await client.FlushAsync();
                sent += count;
            }
            if (qos > 0)
            {
                await client.WaitForAllAcknowledgedAsync().WaitAsync(bound.Token);
            }
        })));
        var settleStarted = Stopwatch.GetTimestamp();
        for (var seen = -1L; subscriber.Probes != seen && Stopwatch.GetElapsedTime(settleStarted) < WarmUpTimeout;)
        {
            seen = subscriber.Probes;
            await Task.Delay(500);
        }
    }

    private static async Task ConnectDevicesAsync(
        ScenarioSetup setup, SimulatedDevice[] devices, MinimalMqttClient?[] clients, LoadTestOptions options, CancellationToken cancellationToken)
    {
        // At most 16 handshakes at once: a burst of 100 connects is not what is being measured.
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(devices.Select(async (device, i) =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                clients[i] = await MinimalMqttClient.ConnectAsync(setup.DeviceEndpoint, device.ClientId, options.Window, null, ConnectTimeout, cancellationToken);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or MqttProtocolException or OperationCanceledException)
            {
                throw new StartFailedException($"{setup.Kind}: device {device.ClientId} could not connect to {setup.DeviceEndpoint}: {e.Message}"
                    + (setup.Failure is { } failure ? $"; {failure}" : ""));
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>What one device did; <c>RoundTripsMicros</c> (window 1 at QoS 1 only) holds each message's publish to its PUBACK.</summary>
    private readonly record struct DeviceOutcome(long Completed, long CompletedTimestamp, string? Error, List<long> RoundTripsMicros);

    private static async Task<DeviceOutcome> PublishAsync(SimulatedDevice device, MinimalMqttClient client, byte qos, LoadTestOptions options, MeasurementClock clock)
    {
        var payload = new byte[device.MaxPayloadLength];
        var total = options.MessagesPerDevice;
        var batch = options.RatePerDevice > 0 ? 1 : options.Window;
        var sent = 0;
        // The warm-up's acknowledgements are not part of the run.
        var acknowledgedBefore = client.Acknowledged;
        var oneAtATime = qos > 0 && options.Window == 1;
        var roundTrips = new List<long>(oneAtATime ? total : 0);
        var sentTimestamp = 0L;
        try
        {
            while (sent < total)
            {
                if (options.RatePerDevice > 0)
                {
                    var dueMicros = (long)(sent * 1_000_000 / options.RatePerDevice);
                    var ahead = dueMicros - clock.NowMicros();
                    if (ahead > 1_000)
                    {
                        await Task.Delay(TimeSpan.FromMicroseconds(ahead));
                    }
                }
                var count = await client.AcquireAsync(Math.Min(batch, total - sent), qos);
                if (oneAtATime && sent > 0)
                {
                    // The window of one is free again: the previous message's PUBACK has arrived.
                    roundTrips.Add(RoundTripMicros(sentTimestamp, client.LastAcknowledgedTimestamp));
                }
                sentTimestamp = Stopwatch.GetTimestamp();
                for (var i = 0; i < count; i++)
                {
                    var length = device.WritePayload(payload, clock.NowMicros());
                    client.AppendPublish(device.Topic, payload.AsSpan(0, length), qos);
                }
                await client.FlushAsync();
                sent += count;
            }
            if (qos > 0)
            {
                await client.WaitForAllAcknowledgedAsync();
                if (oneAtATime && sent > 0)
                {
                    roundTrips.Add(RoundTripMicros(sentTimestamp, client.LastAcknowledgedTimestamp));
                }
            }
            var completedAt = Stopwatch.GetTimestamp();
            await client.DisconnectAsync();
            return new DeviceOutcome(qos > 0 ? client.Acknowledged - acknowledgedBefore : sent, completedAt, null, roundTrips);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            var error = client.ConnectionError ?? (e is OperationCanceledException ? "time limit reached" : e.Message);
            return new DeviceOutcome(qos > 0 ? client.Acknowledged - acknowledgedBefore : sent, Stopwatch.GetTimestamp(), $"{device.ClientId}: {error}", roundTrips);
        }
    }

    private static long RoundTripMicros(long sentTimestamp, long acknowledgedTimestamp) =>
        Stopwatch.GetElapsedTime(sentTimestamp, acknowledgedTimestamp).Ticks / (TimeSpan.TicksPerMillisecond / 1000);

    /// <summary>
    /// Waits until every expected output arrived, or none arrived for the drain timeout, or the run's bound passed.
    /// Returns true when stopped by the bound.
    /// </summary>
    private static async Task<bool> DrainAsync(CloudSubscriber subscriber, long expected, MeasurementClock clock, LoadTestOptions options)
    {
        var bound = options.DurationLimit + options.DrainTimeout;
        var lastCount = -1L;
        var lastProgress = Stopwatch.GetTimestamp();
        while (subscriber.Received - subscriber.Duplicates < expected)
        {
            var count = subscriber.Received;
            if (count != lastCount)
            {
                lastCount = count;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) >= options.DrainTimeout)
            {
                return false;
            }
            if (Stopwatch.GetElapsedTime(clock.OriginTimestamp) >= bound)
            {
                return true;
            }
            await Task.Delay(20);
        }
        return false;
    }
}
