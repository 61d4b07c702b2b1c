using System.Text.Json;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using TelemetryGateway.Core.Diagnostics;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Security.Authentication;
using TelemetryGateway.Mqtt.Security.Authorization;

namespace TelemetryGateway.Mqtt.Rights;

/// <summary>
/// Consent, objection and restriction from the commissioning app: a publish on <c>app/{installer}/consent/{serial}</c>
/// with a <see cref="ConsentMessage"/> body. The site broker's security check decides first (installer role, its own
/// topic; size and rate limits); then the choice is recorded under the installer's identity and takes effect for the
/// next message. The app learns the outcome from the PUBACK reason code (MQTT 5) and from a JSON result published on
/// <c>app/{installer}/consent/{serial}/result</c>, or on its MQTT 5 response topic when that lies under
/// <c>app/{installer}/</c> (the gateway publishes nowhere else for it). A consent message is never routed to subscribers.
/// </summary>
internal sealed partial class ConsentIngress(IDataSubjectRights? rights, ILogger<ConsentIngress> logger)
{
    /// <summary>Set by the site broker: publishes a result on the site broker as the gateway itself.</summary>
    internal Func<MqttApplicationMessage, Task>? Publish { get; set; }

    public async Task OnPublishAsync(InterceptingPublishEventArgs args, Func<InterceptingPublishEventArgs, Core.Policy.CompiledStream?, bool> authorize, bool isMqtt5)
    {
        var message = args.ApplicationMessage;
        var topic = message.Topic ?? "";
        // Never routed: the body is a data subject's choice, for the gateway only.
        args.ProcessPublish = false;
        if (!authorize(args, null))
        {
            LogDenied(logger);
            return;
        }
        TopicAcl.IsConsentTopic(topic, out var installerLevel, out var deviceLevel);
        var installer = installerLevel.ToString();
        var device = deviceLevel.ToString();
        var identity = args.SessionItems?[DeviceSecurityItems.Identity] as Identity;
        var (action, purposes, allLegitimateInterest, noticeVersion, errors) = ConsentMessage.Parse(message.Payload);
        ChoiceRequest? request = null;
        if (errors.Count == 0)
        {
            request = new ChoiceRequest(device, action, purposes, allLegitimateInterest, noticeVersion, $"installer:{identity?.Name ?? installer}", ChoiceSource.Mqtt);
            errors.AddRange(ChoiceRequestRules.Validate(request));
        }
        Result result;
        if (errors.Count > 0)
        {
            LogRejected(logger, errors.Count);
            result = new Result("rejected", null, null, null, errors);
            SetReason(args, isMqtt5, MqttPubAckReasonCode.PayloadFormatInvalid, string.Join("; ", errors));
        }
        else if (rights is null)
        {
            result = new Result("unavailable", null, null, null, ["no consent registry in this gateway"]);
            SetReason(args, isMqtt5, MqttPubAckReasonCode.ImplementationSpecificError, "no consent registry in this gateway");
        }
        else
        {
            try
            {
                var outcome = await rights.RecordAsync(request!, CancellationToken.None);
                var actionId = action.Id();
                var purposeIds = purposes.ToString();
                LogRecorded(logger, actionId, purposeIds, allLegitimateInterest, outcome.RemovedWaitingOutputs);
                result = new Result("recorded", actionId, outcome.Record.Sequence, outcome.RemovedWaitingOutputs, null);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or ArgumentException))
            {
                // Nothing was recorded (or the snapshot did not change): the app is told to try again.
                LogFailed(logger, e.GetType().Name);
                result = new Result("unavailable", null, null, null, ["the consent registry could not record the choice"]);
                SetReason(args, isMqtt5, MqttPubAckReasonCode.ImplementationSpecificError, "the consent registry could not record the choice");
            }
        }
        await PublishResultAsync(message, topic, installer, result);
    }

    private async Task PublishResultAsync(MqttApplicationMessage request, string topic, string installer, Result result)
    {
        if (Publish is null)
        {
            return;
        }
        var responseTopic = request.ResponseTopic;
        // Only within the installer's own space: a response topic must not make the gateway publish for it elsewhere.
        if (string.IsNullOrEmpty(responseTopic) || !TopicAcl.IsWithin(responseTopic, ["app", installer, "#"]) || responseTopic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            responseTopic = topic + "/result";
        }
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(responseTopic)
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(result, ResultJson.Default.Result))
            .WithContentType("application/json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (request.CorrelationData is { Length: > 0 } correlation)
        {
            builder.WithCorrelationData(correlation);
        }
        await Publish(builder.Build());
    }

    private static void SetReason(InterceptingPublishEventArgs args, bool isMqtt5, MqttPubAckReasonCode code, string reason)
    {
        // MQTT 3.1.1 cannot carry a reason: its client reads the result message (the connection stays open).
        if (isMqtt5)
        {
            args.Response.ReasonCode = code;
            args.Response.ReasonString = reason.Length <= 512 ? reason : reason[..512];
        }
    }

    /// <summary>What the app reads on the result topic.</summary>
    internal sealed record Result(string Status, string? Action, long? Sequence, int? RemovedWaitingOutputs, IReadOnlyList<string>? Errors);

    [LoggerMessage(EventId = EventIds.ConsentRecorded, Level = LogLevel.Information,
        Message = "Consent message recorded: {Action} for [{Purposes}] (all legitimate-interest purposes: {AllLegitimateInterest}); {Removed} waiting outputs removed")]
    private static partial void LogRecorded(ILogger logger, string action, string purposes, bool allLegitimateInterest, int removed);

    [LoggerMessage(EventId = EventIds.ConsentRejected, Level = LogLevel.Warning, Message = "Consent message rejected: {Errors} problem(s); nothing was changed")]
    private static partial void LogRejected(ILogger logger, int errors);

    [LoggerMessage(EventId = EventIds.ConsentDenied, Level = LogLevel.Warning, Message = "Consent message denied by the security check; nothing was changed")]
    private static partial void LogDenied(ILogger logger);

    [LoggerMessage(EventId = EventIds.ConsentRegistryFailed, Level = LogLevel.Error, Message = "The consent registry could not record a choice ({Error}); nothing was changed")]
    private static partial void LogFailed(ILogger logger, string error);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ConsentIngress.Result))]
internal sealed partial class ResultJson : System.Text.Json.Serialization.JsonSerializerContext;
