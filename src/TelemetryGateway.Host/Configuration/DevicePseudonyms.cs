using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Transforms;

namespace TelemetryGateway.Host.Configuration;

/// <summary>
/// The pseudonyms a device's serial has had: under the current key and under each previous one (a key rotated out,
/// <c>Gateway:Pseudonymization:PreviousKeyFiles</c>), each named by its key id, so that the cloud side can find all of a
/// device's data when its data subject asks (notice §9.2) or has it erased (§9.6).
/// </summary>
internal sealed class DevicePseudonyms(PseudonymizationKey current, IReadOnlyList<PseudonymizationKey> previous)
{
    public IReadOnlyList<DevicePseudonym> Of(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var pseudonyms = new List<DevicePseudonym>(1 + previous.Count) { new(current.Id, Pseudonymizer.Of(current, device), Current: true) };
        foreach (var key in previous)
        {
            pseudonyms.Add(new DevicePseudonym(key.Id, Pseudonymizer.Of(key, device), Current: false));
        }
        return pseudonyms;
    }
}

/// <summary>A device's pseudonym under one key: the key's id, the pseudonym, and whether the key is the one in use.</summary>
internal sealed record DevicePseudonym(string KeyId, string Pseudonym, bool Current);
