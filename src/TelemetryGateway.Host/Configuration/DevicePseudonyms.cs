using System.Text;
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
        var pseudonyms = new List<DevicePseudonym>(1 + previous.Count) { new(current.Id, PseudonymOf(current, device), Current: true) };
        foreach (var key in previous)
        {
            pseudonyms.Add(new DevicePseudonym(key.Id, PseudonymOf(key, device), Current: false));
        }
        return pseudonyms;
    }

    private static string PseudonymOf(PseudonymizationKey key, string device)
    {
        using var pseudonymizer = new Pseudonymizer(key);
        var input = Encoding.UTF8.GetBytes(device);
        var output = new byte[pseudonymizer.Length];
        return Encoding.ASCII.GetString(output, 0, pseudonymizer.Write(input, output));
    }
}

/// <summary>A device's pseudonym under one key: the key's id, the pseudonym, and whether the key is the one in use.</summary>
internal sealed record DevicePseudonym(string KeyId, string Pseudonym, bool Current);
