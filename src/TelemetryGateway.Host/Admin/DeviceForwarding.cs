using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Vocabulary;
using TelemetryGateway.Mqtt;

namespace TelemetryGateway.Host.Admin;

/// <summary>
/// Notice 9.2 and §7: what a policy would forward for a device with the given choices, per stream purpose, and
/// to which of the configured upstreams' regions under which safeguard (from the site's region). One description for
/// the admin API's device report and the CLI's <c>consent show</c>.
/// </summary>
internal static class DeviceForwarding
{
    public static List<object> Describe(CompiledPolicy policy, DeviceChoices choices, IReadOnlyList<UpstreamRoute> routes, string siteRegion)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(choices);
        var forwarding = new List<object>();
        foreach (var stream in policy.Streams)
        {
            if (stream.DeviceCapture < 0)
            {
                continue;
            }
            foreach (var purpose in stream.Purposes)
            {
                var refusal = choices.Refusal(purpose.Purpose, purpose.LegalBasis);
                // Notice §7: the configured upstreams' regions this purpose may go to from the site's region, and the safeguard.
                var destinations = new List<object>();
                foreach (var route in routes)
                {
                    if (purpose.Residency.Allows(route.Region, siteRegion, out var safeguard))
                    {
                        destinations.Add(new { region = route.Region, safeguard });
                    }
                }
                if (refusal is null && destinations.Count == 0)
                {
                    refusal = ProcessingAction.NoDestination;
                }
                forwarding.Add(new
                {
                    stream = stream.Name,
                    purpose = purpose.Purpose.Id(),
                    entry = purpose.Name,
                    legalBasis = purpose.LegalBasis.Id(),
                    forwarded = refusal is null,
                    refusal = refusal switch
                    {
                        ProcessingAction.NoConsent => "no-consent",
                        ProcessingAction.Objected => "objected",
                        ProcessingAction.Restricted => "restricted",
                        ProcessingAction.NoDestination => "no-destination",
                        _ => null,
                    },
                    destinations,
                });
            }
        }
        return forwarding;
    }
}
