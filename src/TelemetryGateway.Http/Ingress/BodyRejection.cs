using Microsoft.AspNetCore.Http;
using TelemetryGateway.Core.Pipeline;

namespace TelemetryGateway.Http.Ingress;

/// <summary>Why a request's body was not forwarded: the status the client gets and a stable reason id (never a value).</summary>
internal readonly record struct BodyRejection(int Status, string Reason)
{
    public static BodyRejection TooLarge => new(StatusCodes.Status413PayloadTooLarge, "too-large");
    public static BodyRejection MalformedGzip => new(StatusCodes.Status422UnprocessableEntity, "malformed-gzip");
    public static BodyRejection ClientAborted => new(StatusCodes.Status400BadRequest, "client-aborted");

    /// <summary>A well-formed body with nothing the route's purpose may receive (counted as withheld, as a message is).</summary>
    public static BodyRejection Withheld => new(StatusCodes.Status422UnprocessableEntity, "withheld");

    /// <summary>A gate of the pipeline refused the route's purpose for this device (counted in the records as the gate's action).</summary>
    public static BodyRejection PurposeRefused => new(StatusCodes.Status403Forbidden, "purpose-refused");

    public static BodyRejection Unprocessable(string reason) => new(StatusCodes.Status422UnprocessableEntity, reason);

    /// <summary>What the pipeline's quarantine of a body answers: 413 for a body over the policy's bound, else 422.</summary>
    public static BodyRejection Quarantined(QuarantineReason reason) =>
        reason == QuarantineReason.TooLarge ? TooLarge : Unprocessable(reason.Id());
}

/// <summary>Thrown into the forwarded body when the pump rejects the rest, so YARP aborts the upstream request.</summary>
internal sealed class BodyRejectedException(BodyRejection rejection) : IOException($"Request body rejected: {rejection.Reason}")
{
    public BodyRejection Rejection { get; } = rejection;
}
