namespace TelemetryGateway.Core.Rights;

/// <summary>
/// What the gateway remembers of a device besides its records and its waiting outputs (the values its messages
/// revealed): an erasure (notice 9.6) forgets it too. Implemented by <see cref="Learning.LearnedSecrets"/>.
/// </summary>
public interface IDeviceMemory
{
    /// <summary>Forgets what <paramref name="device"/> alone revealed; returns how many values were forgotten.</summary>
    int Forget(string device);

    /// <summary>
    /// Forgets what the devices <paramref name="isErased"/> picks alone revealed (an erasure another process recorded,
    /// known here only by the device's pseudonym); returns how many values were forgotten.
    /// </summary>
    int ForgetWhere(Func<string, bool> isErased);
}
