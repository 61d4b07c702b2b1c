namespace TelemetryGateway.Core.Learning;

/// <summary>Bounds of the learned values: how many, how many bytes, and how long since a value was last seen.</summary>
public sealed record LearnedSecretsLimits(int MaxValues, int MaxBytes, TimeSpan Expiry)
{
    public static LearnedSecretsLimits Default { get; } = new(1000, 64 * 1024, TimeSpan.FromDays(30));
}

/// <summary>
/// The values the site has revealed and must never send (Wi-Fi names and secrets, MAC addresses, owner and installer
/// contact data), each remembered with the devices that revealed it: the memory behind scrubbing every later output of
/// every format of them, whatever syntax carries them (<see cref="LearnedSecretSet"/>).
/// </summary>
/// <remarks>
/// Values are kept lowercase (they are only ever matched ignoring case), bounded in count and bytes (the least
/// recently seen go first) and forgotten after <see cref="LearnedSecretsLimits.Expiry"/> without being seen. Readers
/// take the <see cref="Current"/> snapshot without a lock; seeing a known value again allocates nothing; learning a
/// new one builds a new snapshot. Thread-safe. The values never appear in logs, metrics or exceptions.
/// </remarks>
public sealed class LearnedSecrets : Rights.IDeviceMemory
{
    private const int MaxDevicesPerValue = 256;

    private readonly Lock _gate = new();
    private readonly LearnedSecretsLimits _limits;
    private readonly TimeProvider _time;

    // The values, by their lowercase form (as Latin-1 text: one char a byte), changed under the lock; the snapshot
    // readers search is rebuilt from them once, when it is next read after a change, so a message that reveals many
    // values (a log, a commissioning record) costs one rebuild, not one a value.
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _bytes;
    private LearnedSecretSet _current = LearnedSecretSet.Empty;
    private volatile bool _changed;
    private long _version;

    public LearnedSecrets(LearnedSecretsLimits? limits = null, TimeProvider? time = null)
    {
        _limits = limits ?? LearnedSecretsLimits.Default;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The values as of now; searching it allocates nothing.</summary>
    public LearnedSecretSet Current
    {
        get
        {
            if (!_changed)
            {
                return Volatile.Read(ref _current);
            }

            lock (_gate)
            {
                if (_changed)
                {
                    Volatile.Write(ref _current, LearnedSecretSet.Of([.. _entries.Values]));
                    _changed = false;
                }

                return _current;
            }
        }
    }

    public int Count => Current.Count;

    /// <summary>Bumped on every change of the values or of who revealed them (not on a value seen again).</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>
    /// Remembers <paramref name="value"/> (UTF-8; blanks around it, and quotes around all of it, dropped) as revealed by
    /// <paramref name="device"/> (may be empty: the site). Returns true when it was not known for that device;
    /// false when it was, or when it is not learnable (<see cref="LearnedSecretSet.IsLearnable"/>).
    /// </summary>
    public bool Learn(ReadOnlySpan<char> device, LearnedClass kind, ReadOnlySpan<byte> value)
    {
        value = value.Trim(" \t"u8);
        if (value.Length >= 2 && value[0] is (byte)'"' or (byte)'\'' && value[^1] == value[0])
        {
            value = value[1..^1];
        }

        if (!LearnedSecretSet.IsLearnable(value))
        {
            return false;
        }

        Span<byte> lowercase = stackalloc byte[LearnedSecretSet.MaxLength];
        lowercase = lowercase[..value.Length];
        for (var i = 0; i < value.Length; i++)
        {
            lowercase[i] = LearnedSecretSet.Lower(value[i]);
        }

        // Seen again (the common case): found in the published snapshot without a lock or an allocation.
        var now = _time.GetUtcNow().UtcTicks;
        var set = Volatile.Read(ref _current);
        var known = set.IndexOfValue(lowercase);
        if (known >= 0)
        {
            var entry = set.Entries[known];
            Volatile.Write(ref entry.LastSeenTicks, now);
            if (entry.HasDevice(device))
            {
                return false;
            }
        }

        lock (_gate)
        {
            var key = System.Text.Encoding.Latin1.GetString(lowercase);
            if (_entries.TryGetValue(key, out var existing))
            {
                Volatile.Write(ref existing.LastSeenTicks, now);
                if (existing.HasDevice(device) || existing.Devices.Length >= MaxDevicesPerValue)
                {
                    // Known for this device; or a value this many devices reveal is the site's, and stays until it expires.
                    return false;
                }

                existing.AddDevice(device.ToString());
                Interlocked.Increment(ref _version);
                return true;
            }

            Add(key, new Entry(lowercase.ToArray(), value.ToArray(), kind, now, device.IsEmpty ? [] : [device.ToString()]));
            Bound(now);
            Changed();
            return true;
        }
    }

    /// <summary>
    /// Forgets what <paramref name="device"/> revealed (erasure, notice §9.6): values no other device revealed are
    /// removed. Returns how many values were removed.
    /// </summary>
    public int Forget(ReadOnlySpan<char> device) => device.IsEmpty ? 0 : ForgetWhere(device.ToString().Equals);

    int Rights.IDeviceMemory.Forget(string device) => Forget(device);

    /// <summary>Forgets what the devices <paramref name="isErased"/> picks alone revealed; returns how many values were removed.</summary>
    public int ForgetWhere(Func<string, bool> isErased)
    {
        ArgumentNullException.ThrowIfNull(isErased);
        lock (_gate)
        {
            var removed = 0;
            var changed = false;
            foreach (var (key, entry) in _entries.ToList())
            {
                var erased = Array.FindAll(entry.Devices, d => isErased(d));
                if (erased.Length == 0)
                {
                    continue;
                }

                if (entry.Devices.Length > erased.Length)
                {
                    entry.RemoveDevices(erased);
                    Interlocked.Increment(ref _version);
                }
                else
                {
                    Remove(key, entry);
                    changed = true;
                    removed++;
                }
            }

            if (changed)
            {
                Changed();
            }

            return removed;
        }
    }

    /// <summary>Drops values not seen within the expiry; returns how many.</summary>
    public int Expire()
    {
        lock (_gate)
        {
            var removed = Bound(_time.GetUtcNow().UtcTicks);
            if (removed > 0)
            {
                Changed();
            }

            return removed;
        }
    }

    /// <summary>The values and who revealed them, for persisting (<see cref="LearnedSecretsFile"/>).</summary>
    internal IReadOnlyList<Entry> Snapshot() => Current.Entries;

    /// <summary>Replaces the values with persisted ones (on start); expired and excess ones are dropped.</summary>
    internal void Restore(IEnumerable<Entry> entries)
    {
        lock (_gate)
        {
            _entries.Clear();
            _bytes = 0;
            foreach (var entry in entries.Where(e => LearnedSecretSet.IsLearnable(e.Value)))
            {
                var key = System.Text.Encoding.Latin1.GetString(entry.Value);
                if (_entries.Remove(key, out var duplicate))
                {
                    _bytes -= duplicate.Value.Length;
                }

                Add(key, entry);
            }

            Bound(_time.GetUtcNow().UtcTicks);
            Changed();
        }
    }

    private void Changed()
    {
        _changed = true;
        Interlocked.Increment(ref _version);
    }

    // Expired values out, then the least recently seen while over the count or byte bound; returns how many went.
    // Under the lock; a pass over the values for each, allocating nothing (a dictionary may lose entries as it is read).
    private int Bound(long now)
    {
        var oldest = now - _limits.Expiry.Ticks;
        var removed = 0;
        foreach (var (key, entry) in _entries)
        {
            if (Volatile.Read(ref entry.LastSeenTicks) < oldest)
            {
                Remove(key, entry);
                removed++;
            }
        }

        while (_entries.Count > _limits.MaxValues || _bytes > _limits.MaxBytes)
        {
            string? leastRecent = null;
            Entry? least = null;
            foreach (var (key, entry) in _entries)
            {
                if (least is null || Volatile.Read(ref entry.LastSeenTicks) < Volatile.Read(ref least.LastSeenTicks))
                {
                    (leastRecent, least) = (key, entry);
                }
            }

            Remove(leastRecent!, least!);
            removed++;
        }

        return removed;
    }

    private void Add(string key, Entry entry)
    {
        _entries[key] = entry;
        _bytes += entry.Value.Length;
    }

    private void Remove(string key, Entry entry)
    {
        _entries.Remove(key);
        _bytes -= entry.Value.Length;
    }

    /// <summary>
    /// One learned value: lowercase UTF-8 (how it is matched), as first seen (for its hex and base64 forms, which
    /// depend on the letter case), its class, when it was last seen, and the devices that revealed it.
    /// </summary>
    internal sealed class Entry(byte[] value, byte[] original, LearnedClass kind, long lastSeenTicks, string[] devices)
    {
        public long LastSeenTicks = lastSeenTicks;

        // Replaced whole under the store's lock; readers take whichever array is current.
        private string[] _devices = devices;

        public byte[] Value { get; } = value;
        public byte[] Original { get; } = original;
        public LearnedClass Kind { get; } = kind;

        /// <summary>The forms the value takes in an output (<see cref="LearnedSecretSet.FormsOf"/>), made once.</summary>
        public byte[][] Forms { get; } = [.. LearnedSecretSet.FormsOf(value, original)];

        public string[] Devices => Volatile.Read(ref _devices);

        public bool HasDevice(ReadOnlySpan<char> device)
        {
            if (device.IsEmpty)
            {
                return true;
            }

            foreach (var known in Devices)
            {
                if (device.SequenceEqual(known))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Adds a device that revealed the value (under the store's lock): the matcher needs no rebuild.</summary>
        public void AddDevice(string device) => Volatile.Write(ref _devices, [.. Devices, device]);

        /// <summary>Removes devices (under the store's lock).</summary>
        public void RemoveDevices(string[] devices) => Volatile.Write(ref _devices, Array.FindAll(Devices, d => Array.IndexOf(devices, d) < 0));
    }
}

/// <summary><c>Gateway:LearnedSecrets</c>: the memory of values the site revealed (see <see cref="LearnedSecrets"/>).</summary>
public sealed record LearnedSecretsOptions
{
    /// <summary>Keep the values across restarts, encrypted in the data directory; false keeps them in memory only.</summary>
    public bool Persist { get; init; } = true;

    public int MaxValues { get; init; } = LearnedSecretsLimits.Default.MaxValues;

    public int MaxBytes { get; init; } = LearnedSecretsLimits.Default.MaxBytes;

    /// <summary>A value not seen again for this long is forgotten.</summary>
    public TimeSpan Expiry { get; init; } = LearnedSecretsLimits.Default.Expiry;

    /// <summary>How often the values are saved (when they changed) and expired ones dropped.</summary>
    public TimeSpan SaveInterval { get; init; } = TimeSpan.FromMinutes(1);

    public LearnedSecretsLimits Limits => new(MaxValues, MaxBytes, Expiry);

    public IEnumerable<string> Validate(string path)
    {
        if (MaxValues is < 1 or > 1_000_000)
        {
            yield return $"{path}:MaxValues must be between 1 and 1000000";
        }
        if (MaxBytes < LearnedSecretSet.MaxLength)
        {
            yield return $"{path}:MaxBytes must be at least {LearnedSecretSet.MaxLength}";
        }
        if (Expiry <= TimeSpan.Zero)
        {
            yield return $"{path}:Expiry must be positive";
        }
        if (SaveInterval < TimeSpan.FromSeconds(1) || SaveInterval > TimeSpan.FromHours(1))
        {
            yield return $"{path}:SaveInterval must be between 1 second and 1 hour";
        }
    }
}
