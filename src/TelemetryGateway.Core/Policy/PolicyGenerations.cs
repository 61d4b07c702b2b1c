namespace TelemetryGateway.Core.Policy;

/// <summary>One compiled policy as it was put into service: immutable, numbered from 1 in the order of the swaps.</summary>
public sealed class PolicyGeneration
{
    internal PolicyGeneration(CompiledPolicy policy, long number)
    {
        Policy = policy;
        Number = number;
    }

    public CompiledPolicy Policy { get; }

    /// <summary>1 for the policy the gateway started with, then one more for each successful reload.</summary>
    public long Number { get; }
}

/// <summary>What a <see cref="PolicyGenerations.Reload()"/> did: swapped in a new generation, or kept the current one and why.</summary>
public sealed record PolicyReload(bool Succeeded, PolicyGeneration Current, IReadOnlyList<string> Errors);

/// <summary>
/// The policy in service, as an immutable generation swapped atomically (the configuration-provider model of YARP).
/// <see cref="Reload()"/> reads, validates and compiles off the hot path, then swaps; a policy that fails validation
/// leaves the current generation running and reports every error. Work that took a generation finishes under it (a
/// minimizer keeps the policy it was made for), new work takes the new one. The counters of stream purposes that
/// still exist (same stream, entry name and purpose) carry over into the new generation.
/// </summary>
public sealed class PolicyGenerations
{
    private readonly Lock _reloading = new();
    private readonly List<Func<CompiledPolicy, IEnumerable<string>>> _validators = [];
    private readonly string? _path;
    private PolicyGeneration _current;

    /// <summary>Starts with <paramref name="initial"/>; <paramref name="path"/> is the file <see cref="Reload()"/> reads again.</summary>
    public PolicyGenerations(CompiledPolicy initial, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(initial);
        _current = new PolicyGeneration(initial, 1);
        _path = path;
    }

    /// <summary>The generation new work takes.</summary>
    public PolicyGeneration Current => Volatile.Read(ref _current);

    /// <summary>
    /// Raised after each swap, with the new generation (on the reloading thread), for the parts bound to the policy
    /// (HTTP routes) to build their own generation from it.
    /// </summary>
    public event Action<PolicyGeneration>? Swapped;

    /// <summary>
    /// Adds a check a new policy must pass before it is swapped in, beyond its own validation (for example that the
    /// HTTP routes still find their streams); every error of every check is reported.
    /// </summary>
    public void AddValidator(Func<CompiledPolicy, IEnumerable<string>> validator)
    {
        ArgumentNullException.ThrowIfNull(validator);
        lock (_reloading)
        {
            _validators.Add(validator);
        }
    }

    /// <summary>Reads the policy file again and swaps it in when it is valid.</summary>
    public PolicyReload Reload()
    {
        if (_path is null)
        {
            return new PolicyReload(false, Current, ["no policy file to reload: the policy was not loaded from a file"]);
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new PolicyReload(false, Current, [$"cannot read policy '{_path}': {e.GetType().Name}"]);
        }
        return Reload(bytes);
    }

    /// <summary>Compiles <paramref name="utf8Json"/> and swaps it in when it is valid; otherwise keeps the current generation.</summary>
    public PolicyReload Reload(ReadOnlySpan<byte> utf8Json)
    {
        var compilation = PolicyCompiler.Compile(utf8Json);
        if (compilation.Policy is not { } policy)
        {
            return new PolicyReload(false, Current, [.. compilation.Errors.Select(e => e.ToString())]);
        }
        return Swap(policy);
    }

    /// <summary>Swaps in an already compiled policy, when it passes the added checks.</summary>
    public PolicyReload Swap(CompiledPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        PolicyGeneration next;
        lock (_reloading)
        {
            var previous = Current;
            if (ReferenceEquals(previous.Policy, policy))
            {
                return new PolicyReload(true, previous, []);
            }
            var errors = _validators.SelectMany(validator => validator(policy)).ToList();
            if (errors.Count > 0)
            {
                return new PolicyReload(false, previous, errors);
            }
            CarryCounters(previous.Policy, policy);
            next = new PolicyGeneration(policy, previous.Number + 1);
            Volatile.Write(ref _current, next);
        }
        Swapped?.Invoke(next);
        return new PolicyReload(true, next, []);
    }

    private static void CarryCounters(CompiledPolicy previous, CompiledPolicy next)
    {
        // Keyed by entry, not by purpose id: two entries of one stream may share a purpose. An entry that now names another
        // purpose of the notice starts afresh, so no count is recorded under a purpose it was not made for.
        var counters = new Dictionary<(string Stream, string Entry, Vocabulary.Purpose Purpose), StreamPurpose>();
        foreach (var stream in previous.Streams)
        {
            foreach (var purpose in stream.Purposes)
            {
                counters[(stream.Name, purpose.Name, purpose.Purpose)] = purpose;
            }
        }
        foreach (var stream in next.Streams)
        {
            foreach (var purpose in stream.Purposes)
            {
                if (counters.TryGetValue((stream.Name, purpose.Name, purpose.Purpose), out var old))
                {
                    purpose.CarryCountersFrom(old);
                    purpose.CarryAggregatorFrom(old);
                }
            }
        }
    }
}
