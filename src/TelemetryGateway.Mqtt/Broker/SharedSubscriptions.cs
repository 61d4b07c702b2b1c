using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Mqtt.Security;

namespace TelemetryGateway.Mqtt;

/// <summary>
/// Shared subscriptions (<c>$share/{group}/{filter}</c>, MQTT 5 §4.8.2) on the site broker, which MQTTnet 5.2 refuses
/// (SUBACK 0x9E, before the subscription hook runs). On MQTTnet's hooks:
/// <list type="bullet">
/// <item>The inbound packet hook rewrites a SUBSCRIBE's or UNSUBSCRIBE's <c>$share/g/f</c> to <c>f</c> before MQTTnet
/// sees it, and notes (by the filter object, or the filter string of the UNSUBSCRIBE) that it is group g's. So the
/// subscription hook, with the ACL, sees the real filter f, and MQTTnet stores f in the session.</item>
/// <item>After MQTTnet stored the subscription, the session becomes a member of the group (g, f).</item>
/// <item>The enqueue hook, called for every subscriber of every message, lets a message that reaches a session only
/// through shared subscriptions into its queue only when the session is the member the message was dealt to: for each
/// group, the first time a message meets it, one member is chosen in turn among the connected members (a member that
/// is not connected, whose session persists, only when none is connected).</item>
/// </list>
/// MQTTnet keeps one subscription per filter and session, so a session subscribed to both <c>$share/g/f</c> and
/// <c>f</c> holds one subscription for both (the options of the latest SUBSCRIBE) and receives a message once: through
/// the plain subscription, which also stands for the group's copy when the session is the member chosen.
/// Retained messages are not sent on a shared subscription (Retain Handling 2 on the rewritten filter). State is per
/// session (bounded by MaxSubscriptionsPerClient memberships) and goes with the session.
/// </summary>
internal sealed partial class SharedSubscriptions(ConnectionLimitOptions limits, Func<string, MqttDisconnectReasonCode, Task> disconnect, ILogger logger)
{
    private const string Prefix = "$share/";

    /// <summary>A <c>$share/...</c> filter of a SUBSCRIBE or UNSUBSCRIBE: its group (null: not a valid shared subscription) and its filter.</summary>
    private sealed record ShareRequest(string? Group, string Filter);

    private sealed class Group(string name, string filter)
    {
        public string Name { get; } = name;
        public string Filter { get; } = filter;
        public List<Session> Members { get; } = [];
        public int Next;
    }

    /// <summary>What a session has subscribed to, as MQTTnet stores it: per filter, plainly and/or for groups.</summary>
    private sealed class Session(string clientId)
    {
        public string ClientId { get; } = clientId;
        public Dictionary<string, FilterUse> Filters { get; } = new(StringComparer.Ordinal);
        public int Memberships;
        public volatile bool Connected = true;
    }

    private sealed class FilterUse
    {
        public bool Plain;
        public List<Group>? Groups;
    }

    /// <summary>The members a message was dealt to, one per group it met (usually one group).</summary>
    private sealed class Dealt
    {
        public Group? First;
        public Session? FirstMember;
        public List<(Group Group, Session Member)>? More;
    }

    private readonly ConditionalWeakTable<MqttTopicFilter, ShareRequest> _subscribing = [];
    private readonly ConditionalWeakTable<string, ShareRequest> _unsubscribing = [];
    private readonly ConditionalWeakTable<MqttApplicationMessage, Dealt> _dealt = [];
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    // Groups by (name, filter). Membership changes and the turn of each group take this lock, always after a session's.
    private readonly Dictionary<(string Name, string Filter), Group> _groups = [];
    private readonly Lock _groupsLock = new();
    private int _memberships;
    private int _activated;
    private long _delivered;
    private long _refused;

    /// <summary>Called once, when the first member joins: attaches <see cref="OnEnqueue"/> to the server (no cost before).</summary>
    public Action? Activate { get; set; }

    /// <summary>Messages let into a member's queue for a shared subscription.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Shared subscriptions refused (invalid share name, quota, No Local).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Groups with at least one member.</summary>
    public int Groups
    {
        get
        {
            lock (_groupsLock)
            {
                return _groups.Count;
            }
        }
    }

    /// <summary>
    /// Every packet a client sends, before MQTTnet decodes its meaning: <c>$share/g/f</c> in a SUBSCRIBE or UNSUBSCRIBE
    /// becomes f. No Local on a shared subscription is a protocol error (MQTT 5 §3.8.3.1): DISCONNECT 0x82.
    /// </summary>
    public Task OnInboundPacketAsync(InterceptingPacketEventArgs args)
    {
        switch (args.Packet)
        {
            case MqttSubscribePacket subscribe:
                foreach (var topicFilter in subscribe.TopicFilters)
                {
                    if (topicFilter.Topic is not { } topic || !topic.StartsWith(Prefix, StringComparison.Ordinal))
                    {
                        continue;
                    }
                    var request = Parse(topic);
                    if (request.Group is not null && topicFilter.NoLocal)
                    {
                        args.ProcessPacket = false;
                        Interlocked.Increment(ref _refused);
                        LogNoLocal(logger);
                        return disconnect(args.ClientId, MqttDisconnectReasonCode.ProtocolError);
                    }
                    _subscribing.AddOrUpdate(topicFilter, request);
                    // A filter MQTTnet does not refuse by itself, so that the subscription hook runs and answers 0x8F.
                    topicFilter.Topic = request.Group is null ? "$share" : request.Filter;
                    if (request.Group is not null)
                    {
                        // §4.8.2: retained messages are not sent on a shared subscription.
                        topicFilter.RetainHandling = MqttRetainHandling.DoNotSendOnSubscribe;
                    }
                }
                break;
            case MqttUnsubscribePacket unsubscribe:
                for (var i = 0; i < unsubscribe.TopicFilters.Count; i++)
                {
                    var topic = unsubscribe.TopicFilters[i];
                    if (topic is null || !topic.StartsWith(Prefix, StringComparison.Ordinal))
                    {
                        continue;
                    }
                    var request = Parse(topic);
                    if (request.Group is null)
                    {
                        continue; // Left as it is: the unsubscription hook answers 0x8F.
                    }
                    // The filter is a new string (a substring), so the note is this packet's alone.
                    _unsubscribing.AddOrUpdate(request.Filter, request);
                    unsubscribe.TopicFilters[i] = request.Filter;
                }
                break;
        }
        return Task.CompletedTask;
    }

    private ShareRequest Parse(string topic)
    {
        var rest = topic.AsSpan(Prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0 || slash == rest.Length - 1)
        {
            return new ShareRequest(null, topic);
        }
        var group = rest[..slash];
        if (group.IndexOfAny('+', '#') >= 0 || Encoding.UTF8.GetByteCount(group) > limits.MaxTopicBytes)
        {
            return new ShareRequest(null, topic);
        }
        return new ShareRequest(group.ToString(), topic[(Prefix.Length + slash + 1)..]);
    }

    /// <summary>
    /// The subscription hook, before the security check: true when the shared subscription is refused here (invalid
    /// share name: 0x8F; more memberships than MaxSubscriptionsPerClient: 0x97). The security check then sees f.
    /// </summary>
    public bool TryRefuse(InterceptingSubscriptionEventArgs args)
    {
        if (!_subscribing.TryGetValue(args.TopicFilter, out var request))
        {
            return false;
        }
        if (request.Group is null)
        {
            Refuse(args, MqttSubscribeReasonCode.TopicFilterInvalid);
            return true;
        }
        if (_sessions.TryGetValue(args.ClientId, out var session))
        {
            lock (session)
            {
                var member = session.Filters.TryGetValue(request.Filter, out var use) && use.Groups?.Exists(g => g.Name == request.Group) == true;
                if (!member && session.Memberships >= limits.MaxSubscriptionsPerClient)
                {
                    Refuse(args, MqttSubscribeReasonCode.QuotaExceeded);
                    return true;
                }
            }
        }
        return false;
    }

    private void Refuse(InterceptingSubscriptionEventArgs args, MqttSubscribeReasonCode code)
    {
        _subscribing.Remove(args.TopicFilter);
        args.ProcessSubscription = false;
        args.Response.ReasonCode = code;
        Interlocked.Increment(ref _refused);
        LogRefused(logger, (int)code, code);
    }

    /// <summary>MQTTnet stored a subscription: the session joins the group, or has the filter plainly.</summary>
    public void OnSubscribed(ClientSubscribedTopicEventArgs args)
    {
        var filter = args.TopicFilter.Topic;
        var session = _sessions.GetOrAdd(args.ClientId, static id => new Session(id));
        _subscribing.TryGetValue(args.TopicFilter, out var request);
        _subscribing.Remove(args.TopicFilter);
        lock (session)
        {
            if (!session.Filters.TryGetValue(filter, out var use))
            {
                use = new FilterUse();
                session.Filters[filter] = use;
            }
            if (request?.Group is not { } name)
            {
                use.Plain = true;
                return;
            }
            if (use.Groups?.Exists(g => g.Name == name) == true)
            {
                return; // Subscribed again: MQTTnet replaced the options, the membership stays.
            }
            lock (_groupsLock)
            {
                if (!_groups.TryGetValue((name, filter), out var group))
                {
                    group = new Group(name, filter);
                    _groups[(name, filter)] = group;
                }
                group.Members.Add(session);
                (use.Groups ??= []).Add(group);
            }
            session.Memberships++;
        }
        if (Interlocked.Increment(ref _memberships) == 1 && Interlocked.Exchange(ref _activated, 1) == 0)
        {
            Activate?.Invoke();
        }
    }

    /// <summary>
    /// The unsubscription hook: leaves the group (or drops the plain use), and keeps MQTTnet's subscription of f while
    /// the session still uses it otherwise. False when MQTTnet's subscription stays.
    /// </summary>
    public bool OnUnsubscription(InterceptingUnsubscriptionEventArgs args)
    {
        var topic = args.Topic;
        if (_unsubscribing.TryGetValue(topic, out var request))
        {
            _unsubscribing.Remove(topic);
        }
        else if (topic.StartsWith(Prefix, StringComparison.Ordinal))
        {
            args.Response.ReasonCode = MqttUnsubscribeReasonCode.TopicFilterInvalid;
            args.ProcessUnsubscription = false;
            return false;
        }
        if (!_sessions.TryGetValue(args.ClientId, out var session))
        {
            if (request is not null)
            {
                NoSubscription(args);
                return false;
            }
            return args.Response.ReasonCode == MqttUnsubscribeReasonCode.Success;
        }
        var left = 0;
        lock (session)
        {
            if (!session.Filters.TryGetValue(topic, out var use))
            {
                if (request is not null)
                {
                    NoSubscription(args);
                    return false;
                }
                return args.Response.ReasonCode == MqttUnsubscribeReasonCode.Success;
            }
            if (request is null)
            {
                if (!use.Plain)
                {
                    NoSubscription(args); // f is held for groups only.
                    return false;
                }
                use.Plain = false;
            }
            else
            {
                var index = use.Groups?.FindIndex(g => g.Name == request.Group) ?? -1;
                if (index < 0)
                {
                    NoSubscription(args);
                    return false;
                }
                Leave(session, use.Groups![index]);
                use.Groups.RemoveAt(index);
                left = 1;
            }
            if (use.Plain || use.Groups is { Count: > 0 })
            {
                args.ProcessUnsubscription = false; // MQTTnet's subscription of f stays; the UNSUBACK says success.
            }
            else
            {
                session.Filters.Remove(topic);
            }
        }
        Interlocked.Add(ref _memberships, -left);
        return args.ProcessUnsubscription && args.Response.ReasonCode == MqttUnsubscribeReasonCode.Success;
    }

    private static void NoSubscription(InterceptingUnsubscriptionEventArgs args)
    {
        args.Response.ReasonCode = MqttUnsubscribeReasonCode.NoSubscriptionExisted;
        args.ProcessUnsubscription = false;
    }

    // Holding the session's lock.
    private void Leave(Session session, Group group)
    {
        lock (_groupsLock)
        {
            group.Members.Remove(session);
            session.Memberships--;
            if (group.Members.Count == 0)
            {
                _groups.Remove((group.Name, group.Filter));
            }
        }
    }

    /// <summary>
    /// An accepted CONNECT: with a clean start MQTTnet replaces the session (without a deletion event), so its
    /// memberships end here.
    /// </summary>
    public void OnConnectionAccepted(string clientId, bool cleanStart)
    {
        if (cleanStart)
        {
            Forget(clientId);
        }
    }

    public void OnConnected(string clientId)
    {
        if (_sessions.TryGetValue(clientId, out var session))
        {
            session.Connected = true;
        }
    }

    /// <summary>A member that is not connected gets a share only when no member is (its persistent session queues it).</summary>
    public void OnDisconnected(ClientDisconnectedEventArgs args)
    {
        if (args.DisconnectType != MqttClientDisconnectType.Takeover && _sessions.TryGetValue(args.ClientId, out var session))
        {
            session.Connected = false;
        }
    }

    /// <summary>The session is gone (clean session ended, or expired): it leaves its groups.</summary>
    public void OnSessionDeleted(string clientId) => Forget(clientId);

    private void Forget(string clientId)
    {
        if (!_sessions.TryRemove(clientId, out var session))
        {
            return;
        }
        var left = 0;
        lock (session)
        {
            foreach (var use in session.Filters.Values)
            {
                if (use.Groups is not { } groups)
                {
                    continue;
                }
                foreach (var group in groups)
                {
                    Leave(session, group);
                    left++;
                }
                groups.Clear();
            }
            session.Filters.Clear();
        }
        Interlocked.Add(ref _memberships, -left);
    }

    /// <summary>
    /// MQTTnet is about to queue a message for a subscriber. A message that reaches the session through shared
    /// subscriptions only is queued when the session is the member it was dealt to. Allocates nothing for sessions
    /// without shared subscriptions; a message that meets a group costs one note (its members, kept with the message).
    /// </summary>
    public Task OnEnqueue(InterceptingClientApplicationMessageEnqueueEventArgs args)
    {
        // No sender: a retained message for a new plain subscription (shared ones get none).
        if (Volatile.Read(ref _memberships) == 0 || args.SenderClientId.Length == 0
            || !_sessions.TryGetValue(args.ReceiverClientId, out var session) || session.Memberships == 0)
        {
            return Task.CompletedTask;
        }
        var message = args.ApplicationMessage;
        var topic = message.Topic;
        var matchedGroups = false;
        lock (session)
        {
            foreach (var (filter, use) in session.Filters)
            {
                if (MqttTopicFilterComparer.Compare(topic, filter) != MqttTopicFilterCompareResult.IsMatch)
                {
                    continue;
                }
                if (use.Plain)
                {
                    return Task.CompletedTask; // Delivered through the plain subscription (standing for any share too).
                }
                if (use.Groups is not { } groups)
                {
                    continue;
                }
                foreach (var group in groups)
                {
                    matchedGroups = true;
                    if (DealtTo(group, message) == session)
                    {
                        Interlocked.Increment(ref _delivered);
                        return Task.CompletedTask;
                    }
                }
            }
        }
        // A match MQTTnet found and this record does not know (none) is let through.
        args.AcceptEnqueue = !matchedGroups;
        return Task.CompletedTask;
    }

    /// <summary>The member of <paramref name="group"/> that <paramref name="message"/> goes to, chosen the first time they meet.</summary>
    private Session DealtTo(Group group, MqttApplicationMessage message)
    {
        // One dispatch of a message visits its subscribers one after the other; different messages may be dispatched at once.
        var dealt = _dealt.GetValue(message, static _ => new Dealt());
        lock (dealt)
        {
            if (dealt.First == group)
            {
                return dealt.FirstMember!;
            }
            if (dealt.More is { } more)
            {
                foreach (var (g, member) in more)
                {
                    if (g == group)
                    {
                        return member;
                    }
                }
            }
            var chosen = Choose(group);
            if (dealt.First is null)
            {
                (dealt.First, dealt.FirstMember) = (group, chosen);
            }
            else
            {
                (dealt.More ??= []).Add((group, chosen));
            }
            return chosen;
        }
    }

    private Session Choose(Group group)
    {
        lock (_groupsLock)
        {
            var members = group.Members;
            var count = members.Count;
            var start = group.Next % Math.Max(count, 1);
            for (var i = 0; i < count; i++)
            {
                var index = (start + i) % count;
                if (members[index].Connected)
                {
                    group.Next = index + 1;
                    return members[index];
                }
            }
            // Nobody connected: the members' persistent sessions queue it, in turn.
            group.Next = start + 1;
            return members[start];
        }
    }

    [LoggerMessage(EventId = EventIds.SharedSubscriptionRefused, Level = LogLevel.Debug, Message = "Shared subscription refused: SUBACK 0x{Code:X2} {ReasonCode}")]
    private static partial void LogRefused(ILogger logger, int code, MqttSubscribeReasonCode reasonCode);

    [LoggerMessage(EventId = EventIds.SharedSubscriptionNoLocal, Level = LogLevel.Warning, Message = "A client set No Local on a shared subscription, a protocol error: DISCONNECT 0x82")]
    private static partial void LogNoLocal(ILogger logger);
}
