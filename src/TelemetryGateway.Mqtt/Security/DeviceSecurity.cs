using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Authorization;
using TelemetryGateway.Mqtt.Security.Limits;
using TelemetryGateway.Mqtt.Upstream;

namespace TelemetryGateway.Mqtt.Security;

/// <summary>
/// Who may connect to the site broker and what each client may do, attached to MQTTnet's hooks: authentication at
/// CONNECT (client certificate, then user name and password, then anonymous where allowed), the topic ACL on every
/// publish and subscription, and the limits (connections, keep-alive, topic size, payload size per stream, publish
/// rate). Refusals are counted per reason and logged with the role, the reason, the topic's first level and a keyed
/// digest of the topic (for this process only): never the topic itself, which carries serial numbers, nor a payload.
/// </summary>
internal sealed partial class DeviceSecurity : IDisposable
{
    private const string IdentityItem = "telemetry-gateway.identity";

    private readonly SecurityOptions _options;
    private readonly ILogger _logger;
    private readonly Func<string, bool> _isMqtt5;
    private readonly PublishRateLimiter _rates;
    private readonly byte[] _digestKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, Identity> _connecting = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Name, IdentityRole Role)> _sessionOwners = new(StringComparer.Ordinal);
    private readonly long[] _denials = new long[Enum.GetValues<DenialReason>().Length];
    private readonly ConcurrentDictionary<(string Role, string Action, DenialReason Reason), long> _lastLogged = new();
    private readonly TimeProvider _time;
    private readonly bool _countConnectionsHere;
    private long _refusedConnections;

    public DeviceSecurity(
        SecurityOptions options, CredentialStore credentials, bool countConnectionsAtConnect, Func<string, bool> isMqtt5,
        ILogger logger, TimeProvider time)
    {
        _options = options;
        Credentials = credentials;
        _logger = logger;
        _isMqtt5 = isMqtt5;
        _countConnectionsHere = countConnectionsAtConnect;
        _time = time;
        Connections = new ConnectionLimiter(options.Limits.MaxConnections, options.Limits.MaxConnectionsPerAddress);
        _rates = new PublishRateLimiter(options.Limits.PublishesPerSecond, options.Limits.PublishBurst, time);
    }

    public CredentialStore Credentials { get; }
    public long MaxPacketBytes => _options.Limits.MaxPacketBytes;
    public ConnectionLimiter Connections { get; }

    /// <summary>Connections refused at CONNECT (authentication, limits) or by the listener (connection limits, packet size).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);

    public long Denials(DenialReason reason) => Interlocked.Read(ref _denials[(int)reason]);

    public long TotalDenials => _denials.Sum();

    public void CountRefusedConnection(string reason)
    {
        Interlocked.Increment(ref _refusedConnections);
        LogConnectionRefused(_logger, reason);
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
        if (!string.IsNullOrEmpty(args.ClientId))
        {
            // A persistent session keeps its subscriptions: it must not pass to another identity under the same client id.
            var owner = (identity.Name, identity.Role);
            var current = _sessionOwners.GetOrAdd(args.ClientId, owner);
            if (current != owner)
            {
                Refuse(args, MqttConnectReasonCode.NotAuthorized, "client identifier belongs to another identity");
                return;
            }
        }
        if (_countConnectionsHere && !Connections.TryAcquire((args.RemoteEndPoint as IPEndPoint)?.Address))
        {
            Refuse(args, MqttConnectReasonCode.ServerBusy, "connection limit reached");
            return;
        }
        // Accepted (this is the last check): released when MQTTnet reports the client disconnected.
        if (!string.IsNullOrEmpty(args.ClientId))
        {
            _connecting[args.ClientId] = identity;
        }
        args.SessionItems[IdentityItem] = identity;
    }

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
            var identity = await Credentials.AuthenticateAsync(args.UserName, args.RawPassword, args.CancellationToken);
            if (identity is null)
            {
                Refuse(args, MqttConnectReasonCode.BadUserNameOrPassword, "wrong user name or password");
                return null;
            }
            LogAuthenticated(_logger, identity.RoleName, "password");
            return identity;
        }
        if (_options.AllowAnonymous)
        {
            return Identity.Anonymous;
        }
        Refuse(args, MqttConnectReasonCode.NotAuthorized, "anonymous access is off");
        return null;
    }

    private void Refuse(ValidatingConnectionEventArgs args, MqttConnectReasonCode code, string reason)
    {
        args.ReasonCode = code;
        if (args.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500)
        {
            args.ReasonString = reason;
        }
        CountRefusedConnection(reason);
    }

    /// <summary>After CONNACK: the identity goes into the session actually used (an existing session keeps its own items).</summary>
    public void OnConnected(ClientConnectedEventArgs args)
    {
        if (_connecting.TryRemove(args.ClientId, out var identity))
        {
            args.SessionItems[IdentityItem] = identity;
        }
    }

    public void OnDisconnected(ClientDisconnectedEventArgs args)
    {
        if (args.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            // On a takeover the same client id is connected again, and its bucket belongs to the new connection.
            _rates.Forget(args.ClientId);
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
            _sessionOwners.TryRemove(new KeyValuePair<string, (string, IdentityRole)>(args.Id, (identity.Name, identity.Role)));
        }
    }

    private static Identity? IdentityOf(System.Collections.IDictionary? items) => items?[IdentityItem] as Identity;

    public Task OnSubscriptionAsync(InterceptingSubscriptionEventArgs args)
    {
        var identity = IdentityOf(args.SessionItems);
        var filter = args.TopicFilter.Topic ?? "";
        DenialReason? denial = CheckTopic(filter);
        if (denial is null && (identity is null || !TopicAcl.MaySubscribe(identity, filter)))
        {
            denial = DenialReason.NotAuthorized;
        }
        if (denial is { } reason)
        {
            Deny(identity, "subscribe", reason, filter);
            args.ProcessSubscription = false;
            // MQTT 5 and 3.1.1 alike: a failure in the SUBACK (3.1.1 has a single failure code, 0x80).
            args.Response.ReasonCode = reason == DenialReason.NotAuthorized ? MqttSubscribeReasonCode.NotAuthorized : MqttSubscribeReasonCode.TopicFilterInvalid;
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
        var denial = CheckTopic(topic);
        if (denial is null && (identity is null || !TopicAcl.MayPublish(identity, topic)))
        {
            denial = DenialReason.NotAuthorized;
        }
        if (denial is null && message.Payload.Length > MaxPayloadBytes(stream))
        {
            denial = DenialReason.PayloadTooLarge;
        }
        if (denial is null && !_rates.TryTake(args.ClientId))
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
                DenialReason.TopicTooLong or DenialReason.TooManyLevels => MqttPubAckReasonCode.TopicNameInvalid,
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

    private DenialReason? CheckTopic(string topic)
    {
        var limits = _options.Limits;
        if (Encoding.UTF8.GetByteCount(topic) > limits.MaxTopicBytes)
        {
            return DenialReason.TopicTooLong;
        }
        return topic.AsSpan().Count('/') + 1 > limits.MaxTopicLevels ? DenialReason.TooManyLevels : null;
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

    [LoggerMessage(EventId = EventIds.ConnectionRefused, Level = LogLevel.Warning, Message = "Connection refused: {Reason}")]
    private static partial void LogConnectionRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.ClientAuthenticated, Level = LogLevel.Debug, Message = "A {Role} client authenticated by {Method}")]
    private static partial void LogAuthenticated(ILogger logger, string role, string method);
}
