using System.Collections.Frozen;

namespace TelemetryGateway.Core.Rights;

/// <summary>
/// Every device's current choices at one moment: immutable, shared by all threads, replaced as a whole on a change
/// (<see cref="IChoicesSource"/>). Looked up by the stream's device capture as a span, so the gates neither allocate
/// nor query the store per message.
/// </summary>
public sealed class ChoicesSnapshot
{
    private readonly FrozenDictionary<string, DeviceChoices> _devices;
    private readonly FrozenDictionary<string, DeviceChoices>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public static ChoicesSnapshot Empty { get; } = new(FrozenDictionary<string, DeviceChoices>.Empty);

    private ChoicesSnapshot(FrozenDictionary<string, DeviceChoices> devices)
    {
        _devices = devices;
        _lookup = devices.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Devices with at least one choice in effect.</summary>
    public int Count => _devices.Count;

    /// <summary>A snapshot of <paramref name="devices"/> (devices whose choices are <see cref="DeviceChoices.None"/> are left out).</summary>
    public static ChoicesSnapshot Of(IEnumerable<KeyValuePair<string, DeviceChoices>> devices) =>
        new(devices.Where(d => !d.Value.IsNone).ToFrozenDictionary(StringComparer.Ordinal));

    /// <summary>The choices of <paramref name="device"/>; <see cref="DeviceChoices.None"/> for a device without records.</summary>
    public DeviceChoices Of(ReadOnlySpan<char> device) =>
        _devices.Count != 0 && _lookup.TryGetValue(device, out var choices) ? choices : DeviceChoices.None;

    /// <summary>This snapshot with <paramref name="device"/>'s choices replaced.</summary>
    public ChoicesSnapshot With(string device, DeviceChoices choices)
    {
        var devices = new Dictionary<string, DeviceChoices>(_devices, StringComparer.Ordinal) { [device] = choices };
        return Of(devices);
    }

    /// <summary>This snapshot without <paramref name="device"/>.</summary>
    public ChoicesSnapshot Without(string device) => With(device, DeviceChoices.None);
}

/// <summary>Where the gates read the current <see cref="ChoicesSnapshot"/> (one volatile read per look-up).</summary>
public interface IChoicesSource
{
    ChoicesSnapshot Current { get; }
}

/// <summary>The choices when no registry is configured: none on record (no consent, no objection, no restriction).</summary>
public sealed class NoChoicesRecorded : IChoicesSource
{
    public static NoChoicesRecorded Instance { get; } = new();

    public ChoicesSnapshot Current => ChoicesSnapshot.Empty;
}
