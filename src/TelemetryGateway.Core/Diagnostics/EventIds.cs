namespace TelemetryGateway.Core.Diagnostics;

/// <summary>
/// Every log event id of the gateway, numbered in this one place so that no two events share an id (operators filter
/// and alert on them). Ranges: 1-9 site broker, 10-19 host, 20-29 records of processing, 40-59 HTTP ingress,
/// 100-119 MQTT ingress and quarantine, 200-229 upstream and delivery, 230-249 dead letters and retention,
/// 300-309 credentials, 310-319 device security, 320-339 outbox, 340-359 consent and the data subject's rights,
/// 400-409 admin listener, 410-419 policy reload,
/// 420-429 learned values, 500-529 worker ingresses (mqtt-shared, amqp), 620-639 residency (upstreams per region).
/// </summary>
public static class EventIds
{
    public const int SiteBrokerListening = 1;
    public const int SiteBrokerStopped = 2;
    public const int SiteBrokerListeningTls = 3;
    public const int AnonymousAccess = 4;
    public const int UsersLoaded = 5;
    public const int SecurityTotals = 6;
    public const int SessionsExpired = 7;

    public const int PolicyLoaded = 11;
    public const int UpstreamConfigured = 12;
    public const int LocalOnly = 13;
    public const int WatchdogWithheld = 14;
    public const int WatchdogEnabled = 15;

    public const int ProcessingRecords = 21;

    public const int HttpListening = 40;
    public const int HttpRoute = 41;
    public const int HttpForwarded = 42;
    public const int HttpRejected = 43;
    public const int HttpAuthenticationRejected = 50;
    public const int HttpRequestRejected = 51;
    public const int HttpForwardFailed = 52;
    public const int HttpProcessingFault = 53;

    public const int Quarantined = 101;
    public const int PublishNotStored = 102;
    public const int ProcessingFault = 103;
    public const int QuarantineWarningsSuppressed = 104;
    public const int QuarantineRecordsDropped = 105;
    public const int QuarantineFileFailed = 106;
    public const int QuarantineAggregated = 107;

    public const int UpstreamConnected = 201;
    public const int UpstreamRefused = 202;
    public const int UpstreamUnreachable = 203;
    public const int OutboxRedelivery = 211;
    public const int OutboxDrainFailed = 212;
    public const int TransientBackoff = 213;
    public const int DeliveryStopped = 214;
    public const int DirectFallback = 221;

    public const int DeadLettered = 231;
    public const int ConnectionClosedOnOutput = 232;
    public const int RetentionExpired = 233;

    public const int CredentialsReloaded = 301;
    public const int CredentialsReloadFailed = 302;
    public const int AccessDenied = 311;
    public const int ConnectionRefused = 312;
    public const int ClientAuthenticated = 313;
    public const int ConnectionsRefusedSummary = 314;

    public const int OutboxFull = 321;
    public const int OutboxWriteFailed = 322;
    public const int OutboxDiskFull = 323;
    public const int OutboxRecovered = 324;
    public const int OutboxStoreTimedOut = 325;

    public const int ConsentRecorded = 341;
    public const int ConsentRejected = 342;
    public const int ConsentDenied = 343;
    public const int ConsentRegistryFailed = 344;
    public const int RegistryOpened = 345;
    public const int RegistryRefreshed = 346;
    public const int RegistryRefreshFailed = 347;
    public const int RegistryRetentionApplied = 350;
    public const int RegistryRetentionFailed = 351;

    public const int AdminListening = 401;
    public const int AdminRequestRejected = 402;
    public const int AdminStopped = 403;

    public const int PolicyReloaded = 411;
    public const int PolicyReloadFailed = 412;
    public const int PolicyReloadError = 413;
    public const int PolicyFileChanged = 414;
    public const int PolicyWatchFailed = 415;

    public const int LearnedValuesRestored = 420;
    public const int LearnedValuesDiscarded = 421;
    public const int LearnedValuesSaveFailed = 422;

    public const int WorkerSubscribed = 500;
    public const int WorkerUnreachable = 501;
    public const int WorkerRefused = 502;
    public const int WorkerDisconnected = 503;
    public const int WorkerNotStored = 504;
    public const int WorkerAckFailed = 505;
    public const int WorkerStopped = 506;
    public const int WorkerProcessingFault = 507;
    public const int WorkerUnexpectedFault = 508;
    public const int WorkerConsuming = 510;
    public const int WorkerConnectionLost = 511;
    public const int WorkerDeliveryLimit = 512;
    public const int WorkerResubscribed = 513;
    public const int WorkerResubscribeFailed = 514;
    public const int WorkerUpstreamConnected = 515;
    public const int WorkerUpstreamUnreachable = 516;

    // 600-619: anonymous aggregates (issue 18).
    public const int AggregateWindowReleased = 600;
    public const int AggregateDeliveryFailed = 601;
    public const int AggregateWindowsDropped = 602;
    public const int AggregatesFlushedAtStop = 603;

    // 620-639: residency (upstreams per region, notice §7).
    public const int RegionalUpstreamConfigured = 620;
    public const int PurposeWithoutDestination = 621;
    public const int AggregatesWithoutDestination = 622;

    // 640-659: the site broker toward its clients, MQTT 5 behaviour MQTTnet lacks.
    public const int SubscriberDeliveryTotals = 640;
    public const int ConnectionClosedWithReason = 641;
    public const int ConnectionClosedWithoutDisconnect = 642;
    public const int SharedSubscriptionRefused = 643;
    public const int SharedSubscriptionNoLocal = 644;
    public const int SharedSubscriptionTotals = 645;
    public const int ClientIdAssignedToMqtt311 = 646;

    // 660-669: batching for the cloud (Gateway:Upstream:Batch).
    public const int UpstreamBatching = 660;
    public const int BatchRejected = 661;
    public const int BatchNotAcknowledged = 662;
}
