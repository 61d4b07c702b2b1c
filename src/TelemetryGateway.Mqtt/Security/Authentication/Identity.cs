namespace TelemetryGateway.Mqtt.Security.Authentication;

/// <summary>What an identity may do on the site broker (see <see cref="Authorization.TopicAcl"/>).</summary>
public enum IdentityRole
{
    /// <summary>No credentials, accepted only where anonymous access is allowed (a loopback bind by default); unrestricted.</summary>
    Anonymous,

    /// <summary>A SOLIX device: publishes its own telemetry, receives its own commands.</summary>
    Device,

    /// <summary>The installer's commissioning app: publishes commissioning records and commands for devices.</summary>
    Installer,

    /// <summary>Cloud ingestion: reads the minimized outputs only.</summary>
    Cloud,
}

/// <summary>
/// An authenticated client. <see cref="Name"/> is the user name or certificate subject; <see cref="Serial"/> is the
/// device serial a device identity may publish under. Neither is ever logged (both may be serial numbers).
/// </summary>
internal sealed record Identity(string Name, IdentityRole Role, string? Serial)
{
    public static Identity Anonymous { get; } = new("", IdentityRole.Anonymous, null);

    /// <summary>The role's name as it appears in logs and in the credentials file.</summary>
    public string RoleName => RoleNames.Of(Role);
}

internal static class RoleNames
{
    public static string Of(IdentityRole role) => role switch
    {
        IdentityRole.Device => "device",
        IdentityRole.Installer => "installer",
        IdentityRole.Cloud => "cloud",
        _ => "anonymous",
    };

    public static bool TryParse(string? text, out IdentityRole role)
    {
        role = text switch
        {
            "device" => IdentityRole.Device,
            "installer" => IdentityRole.Installer,
            "cloud" => IdentityRole.Cloud,
            _ => IdentityRole.Anonymous,
        };
        return role != IdentityRole.Anonymous;
    }
}
