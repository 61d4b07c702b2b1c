using System.Net;

namespace TelemetryGateway.Mqtt.Security.Limits;

/// <summary>What the throttle says to a CONNECT that needs a password check.</summary>
internal enum LoginAdmission
{
    /// <summary>The caller holds the check slot: run the check, then dispose the slot.</summary>
    Admitted,

    /// <summary>The address or the user name failed too often lately: refused at once, no check.</summary>
    Throttled,

    /// <summary>Too many checks waiting (in total or from this address), or the wait outlasted the connect timeout.</summary>
    Busy,
}

/// <summary>
/// Bounds what unauthenticated clients can do to logins. Password checks are slow on purpose: at most two run at once,
/// and of those at most one for a client with recent failures, so a client that never failed never waits for an
/// attacker's check. The wait for a turn is bounded: at most <c>MaxPendingLogins</c> wait (beyond, "server busy" at once), at
/// most <c>MaxPendingLoginsPerAddress</c> from one address, and an address or user name with
/// <c>LoginFailuresBeforeBackoff</c> recent failures is refused without a check for a backoff that doubles with every
/// further failure (up to <c>MaxLoginBackoff</c>). Checks from addresses and names without recent failures go first.
/// Every address counts, loopback too
/// (127.0.0.2 is not 127.0.0.1). Failure records are bounded in number and forgotten after twice the longest backoff.
/// </summary>
internal sealed class LoginThrottle(ConnectionLimitOptions limits, TimeProvider time)
{
    private const int MaxFailureRecords = 10_000;

    // Checks running at once: two in all, one of them at most for a client with recent failures.
    private const int MaxRunning = 2;
    private const int MaxRunningSuspect = 1;

    private sealed class FailureRecord
    {
        public int Count;
        public long Last;
    }

    private sealed class Waiter
    {
        public TaskCompletionSource Turn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, FailureRecord> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, int> _pendingPerAddress = [];
    private readonly Queue<Waiter> _clean = new();
    private readonly Queue<Waiter> _suspect = new();
    private int _running;
    private int _runningSuspect;
    private int _waiting;
    private long _throttled;
    private long _busy;

    public long Throttled => Interlocked.Read(ref _throttled);
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Waits for the check slot, within <paramref name="cancellationToken"/> (the connect timeout).</summary>
    public async Task<(LoginAdmission Admission, IDisposable? Slot)> EnterAsync(IPAddress? address, string user, CancellationToken cancellationToken)
    {
        address = Normalize(address);
        Waiter waiter;
        bool waiterIsSuspect;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (InBackoff(AddressKey(address), now) || InBackoff(UserKey(user), now))
            {
                Interlocked.Increment(ref _throttled);
                return (LoginAdmission.Throttled, null);
            }
            if (address is not null && _pendingPerAddress.GetValueOrDefault(address) >= limits.MaxPendingLoginsPerAddress)
            {
                Interlocked.Increment(ref _busy);
                return (LoginAdmission.Busy, null);
            }
            var suspect = _failures.ContainsKey(AddressKey(address)) || _failures.ContainsKey(UserKey(user));
            if (_running < MaxRunning && _clean.Count == 0 && (!suspect || (_runningSuspect < MaxRunningSuspect && _suspect.Count == 0)))
            {
                _running++;
                _runningSuspect += suspect ? 1 : 0;
                AddPending(address, 1);
                return (LoginAdmission.Admitted, new Slot(this, address, suspect));
            }
            if (_waiting >= limits.MaxPendingLogins)
            {
                Interlocked.Increment(ref _busy);
                return (LoginAdmission.Busy, null);
            }
            waiter = new Waiter();
            waiterIsSuspect = suspect;
            (suspect ? _suspect : _clean).Enqueue(waiter);
            _waiting++;
            AddPending(address, 1);
        }
        try
        {
            await waiter.Turn.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return (LoginAdmission.Admitted, new Slot(this, address, waiterIsSuspect));
        }
        catch (OperationCanceledException)
        {
            lock (_lock)
            {
                if (!waiter.Turn.TrySetCanceled(CancellationToken.None))
                {
                    // The turn came just as the wait ended: pass it on.
                    ReleaseLocked(address, waiterIsSuspect);
                }
                else
                {
                    _waiting--;
                    AddPending(address, -1);
                }
            }
            Interlocked.Increment(ref _busy);
            return (LoginAdmission.Busy, null);
        }
    }

    public void RecordFailure(IPAddress? address, string user)
    {
        address = Normalize(address);
        lock (_lock)
        {
            var now = time.GetTimestamp();
            Count(AddressKey(address), now);
            Count(UserKey(user), now);
        }
    }

    /// <summary>A correct password clears the user name's failures (not the address's: they expire on their own).</summary>
    public void RecordSuccess(string user)
    {
        lock (_lock)
        {
            _failures.Remove(UserKey(user));
        }
    }

    private void Count(string key, long now)
    {
        if (!_failures.TryGetValue(key, out var record))
        {
            if (_failures.Count >= MaxFailureRecords)
            {
                Prune(now);
                if (_failures.Count >= MaxFailureRecords)
                {
                    return;
                }
            }
            record = new FailureRecord();
            _failures[key] = record;
        }
        record.Count++;
        record.Last = now;
    }

    private bool InBackoff(string key, long now)
    {
        if (!_failures.TryGetValue(key, out var record))
        {
            return false;
        }
        var since = time.GetElapsedTime(record.Last, now);
        if (since > 2 * limits.MaxLoginBackoff)
        {
            _failures.Remove(key);
            return false;
        }
        if (record.Count < limits.LoginFailuresBeforeBackoff)
        {
            return false;
        }
        var doublings = Math.Min(record.Count - limits.LoginFailuresBeforeBackoff, 30);
        var backoff = TimeSpan.FromTicks(Math.Min(limits.LoginBackoff.Ticks << doublings, limits.MaxLoginBackoff.Ticks));
        return since < backoff;
    }

    private void Prune(long now)
    {
        foreach (var (key, record) in _failures)
        {
            if (time.GetElapsedTime(record.Last, now) > 2 * limits.MaxLoginBackoff)
            {
                _failures.Remove(key);
            }
        }
    }

    private void Release(IPAddress? address, bool suspect)
    {
        lock (_lock)
        {
            ReleaseLocked(address, suspect);
        }
    }

    private void ReleaseLocked(IPAddress? address, bool suspect)
    {
        AddPending(address, -1);
        _running--;
        _runningSuspect -= suspect ? 1 : 0;
        // Waiters' pending counts stay until they release their own turn.
        while (_running < MaxRunning && TryGrant(_clean, suspect: false))
        {
        }
        while (_running < MaxRunning && _runningSuspect < MaxRunningSuspect && TryGrant(_suspect, suspect: true))
        {
        }
    }

    private bool TryGrant(Queue<Waiter> lane, bool suspect)
    {
        while (lane.Count > 0)
        {
            // A waiter whose wait ended (cancelled) is skipped.
            if (lane.Dequeue().Turn.TrySetResult())
            {
                _waiting--;
                _running++;
                _runningSuspect += suspect ? 1 : 0;
                return true;
            }
        }
        return false;
    }

    private void AddPending(IPAddress? address, int delta)
    {
        if (address is null)
        {
            return;
        }
        var count = _pendingPerAddress.GetValueOrDefault(address) + delta;
        if (count <= 0)
        {
            _pendingPerAddress.Remove(address);
        }
        else
        {
            _pendingPerAddress[address] = count;
        }
    }

    private static string AddressKey(IPAddress? address) => "a:" + (address?.ToString() ?? "?");

    private static string UserKey(string user) => "u:" + user;

    private static IPAddress? Normalize(IPAddress? address) => address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private sealed class Slot(LoginThrottle owner, IPAddress? address, bool suspect) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(address, suspect);
            }
        }
    }
}
