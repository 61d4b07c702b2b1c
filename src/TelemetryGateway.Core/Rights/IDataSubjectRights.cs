namespace TelemetryGateway.Core.Rights;

/// <summary>
/// The data subject's rights as the gateway enforces them (privacy model, principle 9): choices are recorded with an
/// audit history and take effect for the next message, including outputs still waiting to leave. Implemented by the
/// registry adapter; the ingresses, the CLI and the admin API see only this.
/// </summary>
public interface IDataSubjectRights : IChoicesSource
{
    /// <summary>Records <paramref name="request"/> (validated by <see cref="ChoiceRequestRules"/>) and applies it.</summary>
    Task<ChoiceOutcome> RecordAsync(ChoiceRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Notice 9.6: deletes the device's records, history, waiting outputs and dead letters, forgets the values it
    /// revealed (<see cref="IDeviceMemory"/>), and appends one audit entry that names the device only by its pseudonym.
    /// </summary>
    Task<ErasureOutcome> EraseAsync(string device, string actor, ChoiceSource source, CancellationToken cancellationToken);

    /// <summary>The device's current choices and its history, oldest first.</summary>
    DeviceReport Report(string device);
}

/// <summary>
/// A recorded choice, the device's choices after it, and how many of its waiting outputs they removed
/// (<see cref="WaitingOutputsUnreachable"/>: the outbox could not be reached; the choice stands all the same).
/// </summary>
public sealed record ChoiceOutcome(ChoiceRecord Record, DeviceChoices Choices, int RemovedWaitingOutputs)
{
    public const int WaitingOutputsUnreachable = -1;
}

/// <summary>What an erasure removed (records, waiting outputs, dead letters, learned values), and the pseudonym its audit entry names.</summary>
public sealed record ErasureOutcome(string Pseudonym, int RemovedRecords, int RemovedWaitingOutputs, int RemovedDeadLetters, int ForgottenValues);

/// <summary>
/// A device's current choices, its history, how many of its outputs wait in the outbox, and when the registry's retention
/// ended its choices (notice 8: the history before such a time no longer counts for the current choices).
/// </summary>
public sealed record DeviceReport(string Device, DeviceChoices Choices, IReadOnlyList<ChoiceRecord> History, long WaitingOutputs, IReadOnlyList<DateTimeOffset>? Expiries = null);

/// <summary>
/// The outputs produced for a device and not yet transferred (the outbox), as far as the data subject's rights reach
/// them. Implemented by the delivery adapter.
/// </summary>
public interface IWaitingOutputs
{
    /// <summary>Removes the device's waiting outputs that <paramref name="choices"/> now refuse; returns how many.</summary>
    Task<int> RemoveRefusedAsync(string device, DeviceChoices choices, CancellationToken cancellationToken);

    /// <summary>Removes every waiting output and dead letter of the device; returns how many of each.</summary>
    Task<(int Outputs, int DeadLetters)> EraseAsync(string device, CancellationToken cancellationToken);

    /// <summary>How many of the device's outputs wait.</summary>
    long CountWaiting(string device);
}
