using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Authorization;
using TelemetryGateway.Mqtt.Security.Limits;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Security;

/// <summary>The session items the security checks keep, for the ingresses that act under the client's identity.</summary>
internal static class DeviceSecurityItems
{
    /// <summary>The client's authenticated identity (an Authentication.Identity).</summary>
    public const string Identity = "telemetry-gateway.identity";
}

/// <summary>
/// Who may connect to the site broker and what each client may do, attached to MQTTnet's hooks: authentication at
/// CONNECT (client certificate, then user name and password, then anonymous where allowed), the topic ACL on every
/// publish and subscription, and the limits (connections, keep-alive, topic size, payload size per stream, publish
/// rate, topic aliases, sessions and subscriptions per identity, logins). Refusals are counted per reason and logged with the role, the reason, the topic's first level and a keyed
/// digest of the topic (for this process only): never the topic itself, which carries serial numbers, nor a payload.
/// </summary>
internal sealed partial class DeviceSecurity : IDisposable
{
    private const string IdentityItem = DeviceSecurityItems.Identity;
    private const string SubscriptionsItem = "telemetry-gateway.subscriptions";
    private const string OversizedSubscribeItem = "telemetry-gateway.oversized-subscribe";
    private const string SessionExpiryItem = "telemetry-gateway.session-expiry";

    private readonly SecurityOptions _options;
    private readonly ILogger _logger;
    private readonly Func<string, bool> _isMqtt5;
    private readonly PublishRateLimiter _rates;
    private readonly PublishRateLimiter _anonymousRates;
    private readonly LoginThrottle _logins;
    private readonly Func<string, MqttDisconnectReasonCode, Task> _disconnect;
    private readonly ConcurrentDictionary<string, string> _rateKeys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, uint> _grantedExpiry = new(StringComparer.Ordinal);
    // The session expiry each accepted CONNECT asked for, until the client is connected (then it is a session item).
    private readonly ConcurrentDictionary<string, uint> _askedExpiry = new(StringComparer.Ordinal);
    // The client id of each accepted connection by its remote end point: the packet guard, which sees bytes and not
    // clients, closes a connection through MQTTnet with a reason code (a DISCONNECT MQTTnet sends in order).
    private readonly ConcurrentDictionary<EndPoint, string> _clientsByEndPoint = new();
    // The topic aliases each connection has set (they last as long as the connection, MQTT 5 §3.3.2.3.4); read and
    // written by that connection's receive loop only.
    private readonly ConcurrentDictionary<string, bool[]> _topicAliases = new(StringComparer.Ordinal);
    private readonly Lock _owners = new();
    private readonly Dictionary<(string Name, IdentityRole Role), int> _sessionsPerIdentity = [];
    private readonly byte[] _digestKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, Identity> _connecting = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Name, IdentityRole Role)> _sessionOwners = new(StringComparer.Ordinal);
    private readonly long[] _denials = new long[Enum.GetValues<DenialReason>().Length];
    private readonly ConcurrentDictionary<(string Role, string Action, DenialReason Reason), long> _lastLogged = new();
    private readonly TimeProvider _time;
    private const int RefusalLinesPerSecond = 10;
    private readonly Dictionary<string, (long Start, int Logged, long Suppressed)> _refusalLog = new(StringComparer.Ordinal);
    private readonly bool _countConnectionsHere;
    private long _refusedConnections;
    private readonly ConcurrentDictionary<string, long> _refusalsByReason = new(StringComparer.Ordinal);

    public DeviceSecurity(
        SecurityOptions options, CredentialStore credentials, bool countConnectionsAtConnect, Func<string, bool> isMqtt5,
        Func<string, MqttDisconnectReasonCode, Task> disconnect, ILogger logger, TimeProvider time)
    {
        _disconnect = disconnect;
        _options = options;
        Credentials = credentials;
        _logger = logger;
        _isMqtt5 = isMqtt5;
        _countConnectionsHere = countConnectionsAtConnect;
        _time = time;
        Connections = new ConnectionLimiter(options.Limits.MaxConnections, options.Limits.MaxConnectionsPerAddress);
        _rates = new PublishRateLimiter(options.Limits.PublishesPerSecond, options.Limits.PublishBurst, time);
        _anonymousRates = new PublishRateLimiter(options.Limits.AnonymousPublishesPerSecond, options.Limits.AnonymousPublishBurst, time);
        _logins = new LoginThrottle(options.Limits, time);
    }

    /// <summary>Logins refused without a check (recent failures) and answered "server busy" (queue full, or the wait timed out).</summary>
    public (long Throttled, long Busy) LoginRefusals => (_logins.Throttled, _logins.Busy);

    public CredentialStore Credentials { get; }
    public long MaxPacketBytes => _options.Limits.MaxPacketBytes;
    public ConnectionLimiter Connections { get; }

    /// <summary>Connections refused at CONNECT (authentication, limits) or by the listener (connection limits, packet size).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);

    public long Denials(DenialReason reason) => Interlocked.Read(ref _denials[(int)reason]);

    public long TotalDenials => _denials.Sum();

    /// <summary>Refused connections per bounded reason id (the CONNACK reason, or <c>connection-limit</c>), for metrics.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> RefusalsByReason => [.. _refusalsByReason];

    public void CountRefusedConnection(string reason, string reasonId = "connection-limit")
    {
        if (CountAndMayLog(reason, reasonId))
        {
            LogConnectionRefused(_logger, reason);
        }
    }

    /// <summary>
    /// A connection the gateway closed with a DISCONNECT reason code (MQTT 5: 0x95 for a packet over the limit, 0x94 for
    /// topic alias 0; an MQTT 3.1.1 client is closed without one). Counted with the refusals, per reason id.
    /// </summary>
    public void CountClosedConnection(string reason, string reasonId, MqttDisconnectReasonCode? sent)
    {
        if (CountAndMayLog(reason, reasonId))
        {
            if (sent is { } code)
            {
                LogConnectionClosed(_logger, (int)code, code, reason);
            }
            else
            {
                LogConnectionClosedWithoutDisconnect(_logger, reason);
            }
        }
    }

    /// <summary>
    /// Closes the connection from <paramref name="endPoint"/> through MQTTnet with a DISCONNECT of <paramref name="code"/>
    /// (MQTT 5 clients; MQTTnet sends none to others). False when no accepted client has that end point (the CONNECT
    /// itself was refused) or the client is gone.
    /// </summary>
    public async Task<bool> DisconnectAsync(EndPoint? endPoint, MqttDisconnectReasonCode code)
    {
        if (endPoint is null || !_clientsByEndPoint.TryGetValue(endPoint, out var clientId) || !_isMqtt5(clientId))
        {
            return false;
        }
        await _disconnect(clientId, code);
        return true;
    }

    // Every refusal is counted; at most ten lines a second per reason are logged: a client looping CONNECT must not flood
    // the log, nor spend the CPU that logging every refusal costs.
    private bool CountAndMayLog(string reason, string reasonId)
    {
        Interlocked.Increment(ref _refusedConnections);
        _refusalsByReason.AddOrUpdate(reasonId, 1, static (_, n) => n + 1);
        var now = _time.GetTimestamp();
        var suppressed = 0L;
        var log = false;
        lock (_refusalLog)
        {
            if (!_refusalLog.TryGetValue(reason, out var entry) || _time.GetElapsedTime(entry.Start, now) >= TimeSpan.FromSeconds(1))
            {
                suppressed = entry.Suppressed;
                _refusalLog[reason] = (now, 1, 0);
                log = true;
            }
            else if (entry.Logged < RefusalLinesPerSecond)
            {
                _refusalLog[reason] = (entry.Start, entry.Logged + 1, entry.Suppressed);
                log = true;
            }
            else
            {
                _refusalLog[reason] = (entry.Start, entry.Logged, entry.Suppressed + 1);
            }
        }
        if (log && suppressed > 0)
        {
            LogConnectionsRefused(_logger, suppressed, reason);
        }
        return log;
    }

    /// <summary>CONNECT: decides the identity, or sets a refusal reason code on <paramref name="args"/>.</summary>
    public async Task ValidateConnectionAsync(ValidatingConnectionEventArgs args)
    {
        var mqtt5 = args.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500;
        if (args.ClientId is { Length: > 0 } id && id[0] == '$')
        {
            // '$' ids are the gateway's own (the local publisher of filtered outputs).
            Refuse(args, MqttConnectReasonCode.ClientIdentifierNotValid, "client identifier reserved");
            return;
        }
        var identity = await AuthenticateAsync(args);
        if (identity is null)
        {
            return;
        }
        if (identity.Role != IdentityRole.Anonymous)
        {
            var keepAlive = args.KeepAlivePeriod ?? 0;
            if (keepAlive == 0 || keepAlive > _options.Limits.MaxKeepAliveSeconds)
            {
                Refuse(args, mqtt5 ? MqttConnectReasonCode.ImplementationSpecificError : MqttConnectReasonCode.ClientIdentifierNotValid,
                    $"keep-alive must be between 1 and {_options.Limits.MaxKeepAliveSeconds} seconds");
                return;
            }
        }
        var clientId = args.ClientId;
        if (string.IsNullOrEmpty(clientId))
        {
            // MQTT 5 §3.1.3.1.1: the server assigns an id (3.1.1 clients without one were refused before); it follows the
            // identity's pattern like any other.
            clientId = AssignClientId(identity);
            args.AssignedClientIdentifier = clientId;
        }
        else if (identity.Role != IdentityRole.Anonymous && !MatchesClientIdPattern(identity, clientId))
        {
            // Otherwise any password holder could squat a device's (predictable) id for as long as the session lives.
            Refuse(args, MqttConnectReasonCode.ClientIdentifierNotValid, "client identifier outside the identity's pattern");
            return;
        }
        if (!TryOwnSession(identity, clientId, out var newlyOwned, out var ownerRefusal))
        {
            Refuse(args, ownerRefusal.Code, ownerRefusal.Reason);
            return;
        }
        if (mqtt5 && args.SessionExpiryInterval > MaxSessionExpirySeconds)
        {
            // MQTTnet keeps a session as long as asked (0xFFFFFFFF: forever): the CONNACK says what the gateway grants,
            // and ExpireSessionsAsync deletes it then.
            _grantedExpiry[clientId] = MaxSessionExpirySeconds;
        }
        if (_countConnectionsHere && !Connections.TryAcquire((args.RemoteEndPoint as IPEndPoint)?.Address))
        {
            if (newlyOwned)
            {
                // No session is made for a refused CONNECT, so no deletion would ever give the id (and the count) back.
                Disown(clientId, (identity.Name, identity.Role));
            }
            _grantedExpiry.TryRemove(clientId, out _);
            Refuse(args, MqttConnectReasonCode.ServerBusy, "connection limit reached");
            return;
        }
        // Accepted (this is the last check): released when MQTTnet reports the client disconnected.
        _connecting[clientId] = identity;
        // MQTT 3.1.1 persistent sessions ask for nothing: they get MaxSessionExpiry.
        _askedExpiry[clientId] = mqtt5 ? args.SessionExpiryInterval : uint.MaxValue;
        if (args.RemoteEndPoint is { } endPoint)
        {
            _clientsByEndPoint[endPoint] = clientId;
        }
        _rateKeys[clientId] = identity.Role == IdentityRole.Anonymous
            ? "anonymous@" + ((args.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "?")
            : RoleNames.Of(identity.Role) + ":" + identity.Name;
        args.SessionItems[IdentityItem] = identity;
    }

    private uint MaxSessionExpirySeconds => (uint)Math.Min(uint.MaxValue - 1L, (long)_options.Limits.MaxSessionExpiry.TotalSeconds);

    /// <summary>
    /// Claims <paramref name="clientId"/> for <paramref name="identity"/>: a persistent session keeps its subscriptions, so
    /// it must not pass to another identity under the same id; and one identity holds at most MaxSessionsPerIdentity.
    /// </summary>
    private bool TryOwnSession(Identity identity, string clientId, out bool newlyOwned, out (MqttConnectReasonCode Code, string Reason) refusal)
    {
        refusal = default;
        newlyOwned = false;
        var owner = (identity.Name, identity.Role);
        lock (_owners)
        {
            if (_sessionOwners.TryGetValue(clientId, out var current))
            {
                if (current == owner)
                {
                    return true;
                }
                refusal = (MqttConnectReasonCode.NotAuthorized, "client identifier belongs to another identity");
                return false;
            }
            if (identity.Role != IdentityRole.Anonymous)
            {
                var held = _sessionsPerIdentity.GetValueOrDefault(owner);
                if (held >= _options.Limits.MaxSessionsPerIdentity)
                {
                    refusal = (MqttConnectReasonCode.QuotaExceeded, "too many sessions for one identity");
                    return false;
                }
                _sessionsPerIdentity[owner] = held + 1;
            }
            _sessionOwners[clientId] = owner;
            newlyOwned = true;
            return true;
        }
    }

    /// <summary>
    /// The client id for an MQTT 3.1.1 CONNECT with clean session and none of its own (MQTT 3.1.1 §3.1.3.1), proposed
    /// from the bytes before anyone is authenticated: of the pattern of the identity the user name (or the client
    /// certificate) names, as an MQTT 5 client's assigned id. The CONNECT is then checked like any other; a user name
    /// that names nobody gets an anonymous-style id and is refused by the password check.
    /// </summary>
    public string ProposeClientId(string? userName, X509Certificate2? certificate)
    {
        Identity identity;
        if (certificate?.GetNameInfo(X509NameType.SimpleName, false) is { Length: > 0 } subject && subject.AsSpan().IndexOfAny("+#/") < 0)
        {
            identity = Credentials.Find(subject) ?? new Identity(subject, IdentityRole.Device, subject);
        }
        else
        {
            identity = !string.IsNullOrEmpty(userName) && Credentials.Find(userName) is { } user ? user : Identity.Anonymous;
        }
        LogClientIdProposed(_logger, identity.RoleName);
        return AssignClientId(identity);
    }

    private string AssignClientId(Identity identity)
    {
        var suffix = Guid.NewGuid().ToString("N");
        if (identity.Role == IdentityRole.Anonymous)
        {
            return "auto-" + suffix;
        }
        var pattern = _options.Limits.ClientIdPattern(identity.RoleName);
        var fixedPart = Expand(pattern.TrimEnd('*'), identity);
        return pattern.EndsWith('*') ? fixedPart + "-" + suffix : fixedPart;
    }

    private bool MatchesClientIdPattern(Identity identity, string clientId)
    {
        var pattern = _options.Limits.ClientIdPattern(identity.RoleName);
        var prefixOnly = pattern.EndsWith('*');
        var expected = Expand(prefixOnly ? pattern[..^1] : pattern, identity);
        return prefixOnly ? clientId.StartsWith(expected, StringComparison.Ordinal) : clientId.Equals(expected, StringComparison.Ordinal);
    }

    private static string Expand(string pattern, Identity identity) =>
        pattern.Replace("{serial}", identity.Serial ?? identity.Name, StringComparison.Ordinal).Replace("{name}", identity.Name, StringComparison.Ordinal);

    private async Task<Identity?> AuthenticateAsync(ValidatingConnectionEventArgs args)
    {
        if (args.ClientCertificate is { } certificate)
        {
            // The TLS layer already checked the chain against the client CA and the validity period.
            var subject = certificate.GetNameInfo(X509NameType.SimpleName, false);
            if (string.IsNullOrEmpty(subject) || subject.AsSpan().IndexOfAny("+#/") >= 0)
            {
                Refuse(args, MqttConnectReasonCode.NotAuthorized, "client certificate subject is not usable");
                return null;
            }
            // A subject naming a user takes that user's role; any other subject is the serial of a device.
            var identity = Credentials.Find(subject) ?? new Identity(subject, IdentityRole.Device, subject);
            LogAuthenticated(_logger, identity.RoleName, "client certificate");
            return identity;
        }
        if (!string.IsNullOrEmpty(args.UserName))
        {
            return await AuthenticateByPasswordAsync(args, args.UserName);
        }
        if (_options.AllowAnonymous)
        {
            return Identity.Anonymous;
        }
        Refuse(args, MqttConnectReasonCode.NotAuthorized, "anonymous access is off");
        return null;
    }

    private async Task<Identity?> AuthenticateByPasswordAsync(ValidatingConnectionEventArgs args, string user)
    {
        if (Credentials.TryRemembered(user, args.RawPassword, out var remembered))
        {
            LogAuthenticated(_logger, remembered!.RoleName, "password");
            return remembered;
        }
        var address = (args.RemoteEndPoint as IPEndPoint)?.Address;
        // The connect timeout covers the wait for a check too: a CONNECT is answered within it, "server busy" at worst.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(args.CancellationToken);
        timeout.CancelAfter(_options.Limits.ConnectTimeout);
        var (admission, slot) = await _logins.EnterAsync(address, user, timeout.Token);
        if (admission == LoginAdmission.Throttled)
        {
            Refuse(args, MqttConnectReasonCode.ServerBusy, "too many failed logins from this address or for this user name; retry later");
            return null;
        }
        if (admission == LoginAdmission.Busy)
        {
            Refuse(args, MqttConnectReasonCode.ServerBusy, "too many logins waiting");
            return null;
        }
        Identity? identity;
        using (slot)
        {
            identity = Credentials.VerifySlowly(user, args.RawPassword);
        }
        if (identity is null)
        {
            _logins.RecordFailure(address, user);
            Refuse(args, MqttConnectReasonCode.BadUserNameOrPassword, "wrong user name or password");
            return null;
        }
        _logins.RecordSuccess(user);
        LogAuthenticated(_logger, identity.RoleName, "password");
        return identity;
    }

    private void Refuse(ValidatingConnectionEventArgs args, MqttConnectReasonCode code, string reason)
    {
        args.ReasonCode = code;
        if (args.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500)
        {
            args.ReasonString = reason;
        }
        CountRefusedConnection(reason, ReasonId(code));
    }

    // The CONNACK reason code as a metrics label: BadUserNameOrPassword -> bad-user-name-or-password.
    // Computed once per code: a client looping CONNECT must not cost a string per refusal.
    private static string ReasonId(MqttConnectReasonCode code) =>
        s_reasonIds.TryGetValue(code, out var id) ? id : Diagnostics.DenialReasonIds.Kebab(code.ToString());

    private static readonly FrozenDictionary<MqttConnectReasonCode, string> s_reasonIds =
        Enum.GetValues<MqttConnectReasonCode>().Distinct().ToDictionary(code => code, code => Diagnostics.DenialReasonIds.Kebab(code.ToString()))
            .ToFrozenDictionary();

    /// <summary>After CONNACK: the identity goes into the session actually used (an existing session keeps its own items).</summary>
    public void OnConnected(ClientConnectedEventArgs args)
    {
        if (_connecting.TryRemove(args.ClientId, out var identity))
        {
            args.SessionItems[IdentityItem] = identity;
        }
        // MQTTnet keeps the expiry of the CONNECT that created the session; a later CONNECT's counts (MQTT 5 §3.1.2.11.2).
        _topicAliases[args.ClientId] = new bool[_options.Limits.TopicAliasMaximum + 1];
        if (_askedExpiry.TryRemove(args.ClientId, out var asked))
        {
            args.SessionItems[SessionExpiryItem] = asked;
        }
    }

    public void OnDisconnected(ClientDisconnectedEventArgs args)
    {
        _grantedExpiry.TryRemove(args.ClientId, out _);
        _askedExpiry.TryRemove(args.ClientId, out _);
        if (args.RemoteEndPoint is { } endPoint)
        {
            _clientsByEndPoint.TryRemove(endPoint, out _);
        }
        if (args.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            _topicAliases.TryRemove(args.ClientId, out _);
        }
        if (args.DisconnectType == MqttClientDisconnectType.Clean && args.SessionExpiryInterval > 0 && args.SessionItems is { } items)
        {
            // The DISCONNECT's Session Expiry Interval replaces the CONNECT's (MQTT 5 §3.14.2.2.2). MQTTnet decodes an
            // absent one as 0, so an explicit 0 cannot be told from none: the CONNECT's stays then.
            items[SessionExpiryItem] = args.SessionExpiryInterval;
        }
        if (args.DisconnectType != MqttClientDisconnectType.Takeover && _rateKeys.TryRemove(args.ClientId, out var rateKey))
        {
            // On a takeover the same client id is connected again. A bucket shared by the identity's other connections (or
            // drained) stays: only a full one is dropped, so reconnecting buys no fresh burst.
            (rateKey.StartsWith("anonymous@", StringComparison.Ordinal) ? _anonymousRates : _rates).ForgetIfFull(rateKey);
        }
        if (_countConnectionsHere)
        {
            Connections.Release((args.RemoteEndPoint as IPEndPoint)?.Address);
        }
    }

    /// <summary>A session is gone (clean start ended, or expired): its client id no longer belongs to anyone.</summary>
    public void OnSessionDeleted(SessionDeletedEventArgs args)
    {
        if (IdentityOf(args.SessionItems) is { } identity)
        {
            Disown(args.Id, (identity.Name, identity.Role));
        }
    }

    private void Disown(string clientId, (string Name, IdentityRole Role) owner)
    {
        lock (_owners)
        {
            if (_sessionOwners.TryRemove(new KeyValuePair<string, (string, IdentityRole)>(clientId, owner))
                && _sessionsPerIdentity.TryGetValue(owner, out var held))
            {
                if (held <= 1)
                {
                    _sessionsPerIdentity.Remove(owner);
                }
                else
                {
                    _sessionsPerIdentity[owner] = held - 1;
                }
            }
        }
    }

    /// <summary>
    /// Deletes disconnected sessions older than they may live: what the client asked for, at most MaxSessionExpiry
    /// (MQTT 3.1.1 persistent sessions, which ask for nothing, get MaxSessionExpiry). MQTTnet 5.2 itself never expires
    /// a disconnected session, not even when its client id connects again (see <see cref="DiscardExpiredSessionAsync"/>).
    /// </summary>
    public async Task<int> ExpireSessionsAsync(MqttServer server)
    {
        var now = DateTime.UtcNow;
        var deleted = 0;
        foreach (var session in await server.GetSessionsAsync())
        {
            if (HasExpired(session, now))
            {
                await session.DeleteAsync();
                deleted++;
            }
        }
        return deleted;
    }

    /// <summary>
    /// Before a client resumes a session (clean start off): a session past its expiry is deleted first, so that the
    /// client starts afresh (CONNACK session present 0), however long ago the last sweep ran. False when there was none
    /// or it is still valid.
    /// </summary>
    public async Task<bool> DiscardExpiredSessionAsync(MqttServer server, string clientId)
    {
        MqttSessionStatus session;
        try
        {
            session = await server.GetSessionAsync(clientId);
        }
        catch (InvalidOperationException)
        {
            return false; // No session of that id.
        }
        if (!HasExpired(session, DateTime.UtcNow))
        {
            return false;
        }
        await session.DeleteAsync();
        return true;
    }

    /// <summary>
    /// A disconnected session's lifetime: what its last CONNECT asked for, or its DISCONNECT, at most MaxSessionExpiry
    /// (0xFFFFFFFF, "never", included).
    /// </summary>
    private bool HasExpired(MqttSessionStatus session, DateTime now)
    {
        if (session.DisconnectedTimestamp is not { } disconnected)
        {
            return false;
        }
        var asked = session.Items[SessionExpiryItem] is uint item ? item : session.ExpiryInterval is 0 or uint.MaxValue ? uint.MaxValue : session.ExpiryInterval;
        var lifetime = TimeSpan.FromSeconds(Math.Min(asked, MaxSessionExpirySeconds));
        return now - disconnected >= lifetime;
    }

    /// <summary>How often <see cref="ExpireSessionsAsync"/> runs: a quarter of MaxSessionExpiry, between 0.2 s and 30 s.</summary>
    public TimeSpan SessionSweepInterval =>
        TimeSpan.FromTicks(Math.Clamp(_options.Limits.MaxSessionExpiry.Ticks / 4, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(30).Ticks));

    /// <summary>
    /// Every packet a client sends, before MQTTnet handles it. A PUBLISH's topic alias is stored by MQTTnet before the
    /// publish hook runs, so an alias above the advertised maximum closes the connection here (MQTT 5 §3.3.2.3.4,
    /// reason 0x94), and an over-long or invalid topic loses its alias (nothing is stored; the publish hook then refuses
    /// it with 0x90). A SUBSCRIBE with more filters than allowed is marked, and each of its filters refused.
    /// </summary>
    public Task OnInboundPacketAsync(InterceptingPacketEventArgs args)
    {
        switch (args.Packet)
        {
            case MqttPublishPacket { TopicAlias: > 0 } publish:
                if (publish.TopicAlias > _options.Limits.TopicAliasMaximum)
                {
                    args.ProcessPacket = false;
                    Deny(IdentityOf(args.SessionItems), "publish", DenialReason.TopicAliasInvalid, publish.Topic ?? "");
                    return _disconnect(args.ClientId, MqttDisconnectReasonCode.TopicAliasInvalid);
                }
                if (!string.IsNullOrEmpty(publish.Topic) && TopicNames.CheckName(publish.Topic, _options.Limits) is not null)
                {
                    publish.TopicAlias = 0;
                    break;
                }
                if (_topicAliases.TryGetValue(args.ClientId, out var aliases))
                {
                    if (!string.IsNullOrEmpty(publish.Topic))
                    {
                        aliases[publish.TopicAlias] = true;
                    }
                    else if (!aliases[publish.TopicAlias])
                    {
                        // An alias this connection never set: a protocol error (MQTT 5 §3.3.4); MQTTnet would only log it.
                        args.ProcessPacket = false;
                        Deny(IdentityOf(args.SessionItems), "publish", DenialReason.TopicAliasInvalid, "");
                        return _disconnect(args.ClientId, MqttDisconnectReasonCode.ProtocolError);
                    }
                }
                break;
            case MqttSubscribePacket subscribe:
                args.SessionItems[OversizedSubscribeItem] = subscribe.TopicFilters.Count > _options.Limits.MaxFiltersPerSubscribe;
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>Every packet sent to a client: the CONNACK says the gateway's topic alias maximum, packet size and granted session expiry.</summary>
    public Task OnOutboundPacketAsync(InterceptingPacketEventArgs args)
    {
        if (args.Packet is MqttConnAckPacket { ReasonCode: MqttConnectReasonCode.Success } connAck)
        {
            connAck.TopicAliasMaximum = (ushort)_options.Limits.TopicAliasMaximum;
            connAck.MaximumPacketSize = (uint)_options.Limits.MaxPacketBytes;
            if (_grantedExpiry.TryRemove(args.ClientId, out var granted))
            {
                connAck.SessionExpiryInterval = granted;
            }
        }
        return Task.CompletedTask;
    }

    public static Task OnUnsubscriptionAsync(InterceptingUnsubscriptionEventArgs args)
    {
        if (args.SessionItems?[SubscriptionsItem] is HashSet<string> subscriptions)
        {
            lock (subscriptions)
            {
                subscriptions.Remove(args.Topic);
            }
        }
        return Task.CompletedTask;
    }

    private static Identity? IdentityOf(System.Collections.IDictionary? items) => items?[IdentityItem] as Identity;

    public Task OnSubscriptionAsync(InterceptingSubscriptionEventArgs args)
    {
        var identity = IdentityOf(args.SessionItems);
        var filter = args.TopicFilter.Topic ?? "";
        var denial = args.SessionItems?[OversizedSubscribeItem] is true ? DenialReason.TooManySubscriptions : TopicNames.CheckFilter(filter, _options.Limits);
        if (denial is null && (identity is null || !TopicAcl.MaySubscribe(identity, filter)))
        {
            denial = DenialReason.NotAuthorized;
        }
        if (denial is null && args.SessionItems is { } items)
        {
            if (items[SubscriptionsItem] is not HashSet<string> subscriptions)
            {
                subscriptions = new HashSet<string>(StringComparer.Ordinal);
                items[SubscriptionsItem] = subscriptions;
            }
            lock (subscriptions)
            {
                // Subscribing again to a filter replaces it; only new filters count.
                if (!subscriptions.Contains(filter) && subscriptions.Count >= _options.Limits.MaxSubscriptionsPerClient)
                {
                    denial = DenialReason.TooManySubscriptions;
                }
                else
                {
                    subscriptions.Add(filter);
                }
            }
        }
        if (denial is { } reason)
        {
            Deny(identity, "subscribe", reason, filter);
            args.ProcessSubscription = false;
            // MQTT 5 and 3.1.1 alike: a failure in the SUBACK (3.1.1 has a single failure code, 0x80).
            args.Response.ReasonCode = reason switch
            {
                DenialReason.NotAuthorized => MqttSubscribeReasonCode.NotAuthorized,
                DenialReason.TooManySubscriptions => MqttSubscribeReasonCode.QuotaExceeded,
                _ => MqttSubscribeReasonCode.TopicFilterInvalid,
            };
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// True when the publish may go on; otherwise the response or the connection is set as the client's protocol allows.
    /// <paramref name="stream"/> is the pipeline's classification of the topic (null: no stream), reused for the per-stream size limit.
    /// </summary>
    public bool AuthorizePublish(InterceptingPublishEventArgs args, CompiledStream? stream)
    {
        if (args.ClientId == SiteBrokerUpstream.SenderClientId)
        {
            return true;
        }
        var identity = IdentityOf(args.SessionItems);
        var message = args.ApplicationMessage;
        var topic = message.Topic ?? "";
        var denial = TopicNames.CheckName(topic, _options.Limits);
        if (denial is null && (identity is null || !TopicAcl.MayPublish(identity, topic)))
        {
            denial = DenialReason.NotAuthorized;
        }
        if (denial is null && message.Payload.Length > MaxPayloadBytes(stream))
        {
            denial = DenialReason.PayloadTooLarge;
        }
        if (denial is null && !TakeRateToken(args.ClientId))
        {
            denial = DenialReason.RateExceeded;
        }
        if (denial is not { } reason)
        {
            return true;
        }
        Deny(identity, "publish", reason, topic);
        args.ProcessPublish = false;
        if (_isMqtt5(args.ClientId))
        {
            args.Response.ReasonCode = reason switch
            {
                DenialReason.NotAuthorized => MqttPubAckReasonCode.NotAuthorized,
                DenialReason.TopicTooLong or DenialReason.TooManyLevels or DenialReason.TopicInvalid => MqttPubAckReasonCode.TopicNameInvalid,
                _ => MqttPubAckReasonCode.QuotaExceeded,
            };
        }
        else
        {
            // MQTT 3.1.1 §3.3.5: a server that does not authorize a publish must acknowledge it or close the connection.
            args.CloseConnection = true;
        }
        return false;
    }

    /// <summary>
    /// The publish rate is per authenticated identity (all its client ids and connections together) and per address for
    /// anonymous clients; a client id seen without a connection record (a will after its client left) has its own bucket.
    /// </summary>
    private bool TakeRateToken(string clientId)
    {
        if (!_rateKeys.TryGetValue(clientId, out var key))
        {
            return _rates.TryTake(clientId);
        }
        return key.StartsWith("anonymous@", StringComparison.Ordinal) ? _anonymousRates.TryTake(key) : _rates.TryTake(key);
    }

    private long MaxPayloadBytes(CompiledStream? stream) =>
        stream is not null && _options.Limits.MaxPayloadBytesPerStream.TryGetValue(stream.Name, out var limit) ? limit : _options.Limits.MaxPacketBytes;

    private void Deny(Identity? identity, string action, DenialReason reason, string topic)
    {
        Interlocked.Increment(ref _denials[(int)reason]);
        // At most one line a second per role, action and reason: a client repeating a denied publish must not flood the
        // log (every denial is counted).
        var role = identity?.RoleName ?? "unauthenticated";
        var now = _time.GetTimestamp();
        var key = (role, action, reason);
        if (_lastLogged.TryGetValue(key, out var last) && _time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(1))
        {
            return;
        }
        _lastLogged[key] = now;
        var slash = topic.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? topic : topic[..slash];
        if (first.Length > 16 || (first.Length > 0 && first is not ("dt" or "cmd" or "app" or "filtered" or "telemetry" or "#" or "+")))
        {
            // Only the known first levels are named; anything else could itself be personal data.
            first = "other";
        }
        var digest = Convert.ToHexStringLower(HMACSHA256.HashData(_digestKey, Encoding.UTF8.GetBytes(topic)).AsSpan(0, 6));
        LogDenied(_logger, role, action, reason, first, digest);
    }

    public void Dispose() => Credentials.Dispose();

    [LoggerMessage(EventId = EventIds.AccessDenied, Level = LogLevel.Warning, Message = "Denied {Action} by a {Role} client: {Reason} (topic under '{FirstLevel}/', digest {TopicDigest})")]
    private static partial void LogDenied(ILogger logger, string role, string action, DenialReason reason, string firstLevel, string topicDigest);

    [LoggerMessage(EventId = EventIds.ConnectionClosedWithReason, Level = LogLevel.Warning, Message = "Connection closed with DISCONNECT 0x{Code:X2} {ReasonCode}: {Reason}")]
    private static partial void LogConnectionClosed(ILogger logger, int code, MqttDisconnectReasonCode reasonCode, string reason);

    [LoggerMessage(EventId = EventIds.ConnectionClosedWithoutDisconnect, Level = LogLevel.Warning, Message = "Connection closed (MQTT 3.1.1 or before CONNECT was accepted, no DISCONNECT reason code): {Reason}")]
    private static partial void LogConnectionClosedWithoutDisconnect(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.ConnectionRefused, Level = LogLevel.Warning, Message = "Connection refused: {Reason}")]
    private static partial void LogConnectionRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.ConnectionsRefusedSummary, Level = LogLevel.Warning, Message = "{Count} more connections refused ({Reason}) in the second before this, counted but not logged one by one")]
    private static partial void LogConnectionsRefused(ILogger logger, long count, string reason);

    [LoggerMessage(EventId = EventIds.ClientIdAssignedToMqtt311, Level = LogLevel.Debug, Message = "An MQTT 3.1.1 CONNECT without a client id is given one of the {Role} pattern")]
    private static partial void LogClientIdProposed(ILogger logger, string role);

    [LoggerMessage(EventId = EventIds.ClientAuthenticated, Level = LogLevel.Debug, Message = "A {Role} client authenticated by {Method}")]
    private static partial void LogAuthenticated(ILogger logger, string role, string method);
}
