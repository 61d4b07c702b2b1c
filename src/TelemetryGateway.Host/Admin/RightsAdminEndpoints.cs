using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Host.Cli;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Registry;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// The data subject's rights on the admin listener (source <c>admin-api</c>, the same rules as MQTT and the CLI):
/// <c>GET /v1/devices/{sn}</c> (notice 9.2: choices, history, pseudonym, what the policy would forward for it, waiting
/// outputs); <c>GET/PUT/DELETE /v1/devices/{sn}/consents/{purpose}</c> (grant, withdraw);
/// <c>GET/PUT/DELETE /v1/devices/{sn}/objections/{purpose}</c> (<c>legitimate-interest</c> as the purpose: every
/// legitimate-interest purpose); <c>GET/PUT/DELETE /v1/devices/{sn}/restriction</c>; <c>POST /v1/devices/{sn}/erase</c>
/// (notice 9.6). PUT takes <c>{"noticeVersion": "...", "purposes": [...]}</c> (purposes for the restriction only), DELETE
/// <c>?noticeVersion=</c>. Errors are RFC 9457 problem details that never repeat the serial.
/// </summary>
internal sealed class RightsAdminEndpoints(ChoiceRegistry registry, PolicyGenerations generations, DevicePseudonyms pseudonyms, GatewayOptions options) : IAdminEndpoints
{
    private const int MaxBodyBytes = 4096;
    private const string AllLegitimateInterest = "legitimate-interest";

    public void Map(IEndpointRouteBuilder admin)
    {
        var devices = admin.MapGroup("/v1/devices/{sn}");
        devices.MapGet("", (string sn) => WithDevice(sn, () => Results.Json(Report(sn))));
        devices.MapGet("/consents/{purpose}", (string sn, string purpose) => WithPurpose(sn, purpose, false, (p, _) =>
            Results.Json(new { purpose = p.Id(), granted = registry.Current.Of(sn).HasConsent(p) })));
        devices.MapPut("/consents/{purpose}", (HttpContext context, string sn, string purpose) =>
            RecordAsync(context, sn, purpose, ChoiceAction.Grant, allowAllLegitimateInterest: false));
        devices.MapDelete("/consents/{purpose}", (HttpContext context, string sn, string purpose) =>
            RecordAsync(context, sn, purpose, ChoiceAction.Withdraw, allowAllLegitimateInterest: false));
        devices.MapGet("/objections/{purpose}", (string sn, string purpose) => WithPurpose(sn, purpose, true, (p, all) =>
        {
            var choices = registry.Current.Of(sn);
            return Results.Json(all
                ? new { purpose = AllLegitimateInterest, objected = choices.ObjectsToLegitimateInterest }
                : new { purpose = p.Id(), objected = choices.Objected.Contains(p) });
        }));
        devices.MapPut("/objections/{purpose}", (HttpContext context, string sn, string purpose) =>
            RecordAsync(context, sn, purpose, ChoiceAction.Objection, allowAllLegitimateInterest: true));
        devices.MapDelete("/objections/{purpose}", (HttpContext context, string sn, string purpose) =>
            RecordAsync(context, sn, purpose, ChoiceAction.LiftObjection, allowAllLegitimateInterest: true));
        devices.MapGet("/restriction", (string sn) => WithDevice(sn, () =>
        {
            var choices = registry.Current.Of(sn);
            return Results.Json(new { restricted = choices.IsRestricted, purposes = choices.IsRestricted ? choices.RestrictedTo.Ids() : null });
        }));
        devices.MapPut("/restriction", (HttpContext context, string sn) => RecordAsync(context, sn, null, ChoiceAction.Restrict, false));
        devices.MapDelete("/restriction", (HttpContext context, string sn) => RecordAsync(context, sn, null, ChoiceAction.LiftRestriction, false));
        devices.MapPost("/erase", async (HttpContext context, string sn) =>
        {
            if (DeviceProblem(sn) is { } problem)
            {
                return problem;
            }
            var erased = await registry.EraseAsync(sn, Actor(context), ChoiceSource.AdminApi, context.RequestAborted);
            return Results.Json(new
            {
                pseudonym = erased.Pseudonym,
                removedRecords = erased.RemovedRecords,
                removedWaitingOutputs = erased.RemovedWaitingOutputs,
                removedDeadLetters = erased.RemovedDeadLetters,
                forgottenValues = erased.ForgottenValues,
            });
        });
    }

    private async Task<IResult> RecordAsync(HttpContext context, string sn, string? purposeId, ChoiceAction action, bool allowAllLegitimateInterest)
    {
        if (DeviceProblem(sn) is { } deviceProblem)
        {
            return deviceProblem;
        }
        var purposes = PurposeSet.Empty;
        var all = false;
        if (purposeId is not null)
        {
            if (allowAllLegitimateInterest && purposeId == AllLegitimateInterest)
            {
                all = true;
            }
            else if (PrivacyVocabulary.TryParsePurpose(purposeId, out var purpose))
            {
                purposes = purposes.With(purpose);
            }
            else
            {
                return Problem(StatusCodes.Status404NotFound, "Unknown purpose", [$"purpose: not a purpose id of the notice's section 4{(allowAllLegitimateInterest ? ", nor legitimate-interest" : "")}"]);
            }
        }
        var (noticeVersion, bodyPurposes, errors) = await ReadChoiceAsync(context, action == ChoiceAction.Restrict);
        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Malformed request", errors);
        }
        var request = new ChoiceRequest(sn, action, purposes.Union(bodyPurposes), all, noticeVersion, Actor(context), ChoiceSource.AdminApi);
        if (ChoiceRequestRules.Validate(request) is { Count: > 0 } problems)
        {
            return Problem(StatusCodes.Status400BadRequest, "The choice cannot be recorded", problems);
        }
        var outcome = await registry.RecordAsync(request, context.RequestAborted);
        return Results.Json(new
        {
            sequence = outcome.Record.Sequence,
            action = action.Id(),
            purposes = request.Purposes.Ids(),
            allLegitimateInterest = all,
            removedWaitingOutputs = outcome.RemovedWaitingOutputs,
        });
    }

    /// <summary>The notice version (body for PUT, <c>?noticeVersion=</c> otherwise) and, for a restriction, the body's purposes.</summary>
    private static async Task<(string NoticeVersion, PurposeSet Purposes, List<string> Errors)> ReadChoiceAsync(HttpContext context, bool purposesInBody)
    {
        var errors = new List<string>();
        var noticeVersion = context.Request.Query["noticeVersion"].ToString();
        var purposes = PurposeSet.Empty;
        if (!HttpMethods.IsPut(context.Request.Method))
        {
            return (noticeVersion, purposes, errors);
        }
        var body = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length < body.Length && (read = await context.Request.Body.ReadAsync(body.AsMemory(length), context.RequestAborted)) > 0)
        {
            length += read;
        }
        if (length > MaxBodyBytes)
        {
            errors.Add($"body: larger than {MaxBodyBytes} bytes");
            return (noticeVersion, purposes, errors);
        }
        try
        {
            using var document = JsonDocument.Parse(body.AsMemory(0, length), new JsonDocumentOptions { MaxDepth = 4 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("body: a JSON object is expected");
                return (noticeVersion, purposes, errors);
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "noticeVersion" when property.Value.ValueKind == JsonValueKind.String:
                        noticeVersion = property.Value.GetString()!;
                        break;
                    case "purposes" when purposesInBody && property.Value.ValueKind == JsonValueKind.Array:
                        foreach (var item in property.Value.EnumerateArray())
                        {
                            if (item.ValueKind == JsonValueKind.String && PrivacyVocabulary.TryParsePurpose(item.GetString()!, out var purpose))
                            {
                                purposes = purposes.With(purpose);
                            }
                            else
                            {
                                errors.Add("purposes: each must be a purpose id of the notice's section 4 (e.g. personalization)");
                            }
                        }
                        break;
                    default:
                        errors.Add(property.Name.Length <= 32 && property.Name.All(char.IsAsciiLetterOrDigit) ? $"{property.Name}: unknown property or wrong type" : "a property is unknown");
                        break;
                }
            }
        }
        catch (JsonException)
        {
            errors.Add("body: not well-formed JSON");
        }
        return (noticeVersion, purposes, errors);
    }

    /// <summary>
    /// Notice 9.2: the device's choices, history and pseudonym, what the running policy would forward for it and to which
    /// regions under which safeguard (§7), and its waiting outputs.
    /// </summary>
    private object Report(string sn)
    {
        var report = registry.Report(sn);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            ConsentCommand.WriteReport(json, report, pseudonyms.Of(sn));
        }
        var forwarding = DeviceForwarding.Describe(generations.Current.Policy, report.Choices, options.Routes, options.Site.Region);
        using var document = JsonDocument.Parse(buffer.ToArray());
        return new { record = document.RootElement.Clone(), policy = generations.Current.Policy.Tag, siteRegion = options.Site.Region, forwarding };
    }

    private static IResult WithDevice(string sn, Func<IResult> handler) => DeviceProblem(sn) ?? handler();

    private static IResult WithPurpose(string sn, string purposeId, bool allowAllLegitimateInterest, Func<Purpose, bool, IResult> handler)
    {
        if (DeviceProblem(sn) is { } problem)
        {
            return problem;
        }
        if (allowAllLegitimateInterest && purposeId == AllLegitimateInterest)
        {
            return handler(default, true);
        }
        return PrivacyVocabulary.TryParsePurpose(purposeId, out var purpose)
            ? handler(purpose, false)
            : Problem(StatusCodes.Status404NotFound, "Unknown purpose", ["purpose: not a purpose id of the notice's section 4"]);
    }

    private static IResult? DeviceProblem(string sn) =>
        ChoiceRequestRules.DeviceErrors(sn) is { Count: > 0 } errors ? Problem(StatusCodes.Status400BadRequest, "Malformed device id", errors) : null;

    private static IResult Problem(int status, string title, IReadOnlyList<string> errors) =>
        Results.Problem(detail: string.Join("; ", errors), statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["errors"] = errors });

    /// <summary>
    /// Who made the change: the admin key's id (the first 12 hex digits of its SHA-256, as the key is configured) when one
    /// was presented, else the loopback caller that needed none.
    /// </summary>
    private static string Actor(HttpContext context)
    {
        var presented = context.Request.Headers["X-Api-Key"].ToString();
        if (presented.Length == 0 && context.Request.Headers.Authorization.ToString() is { } authorization
            && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization["Bearer ".Length..].Trim();
        }
        return presented.Length == 0
            ? "admin-api:loopback"
            : $"admin-api:key-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(presented.Trim())))[..12]}";
    }
}
