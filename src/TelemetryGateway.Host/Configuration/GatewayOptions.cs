using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Learning;
using TelemetryGateway.Host.Admin;
using TelemetryGateway.Mqtt;
using TelemetryGateway.Mqtt.Quarantine;
using TelemetryGateway.Mqtt.Security;
using TelemetryGateway.Mqtt.Workers;

namespace TelemetryGateway.Host.Configuration;

/// <summary>
/// The gateway's configuration (section <c>Gateway</c>), bound from appsettings.json, <c>Gateway__*</c> environment
/// variables and the command line. <see cref="Validate"/> reports every problem at once.
/// </summary>
public sealed record GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Where the gateway keeps its state: the generated pseudonymization key (and later the outbox).</summary>
    public string DataDirectory { get; init; } = DefaultDataDirectory;

    /// <summary>Names this gateway in the envelope; defaults to the machine name.</summary>
    public string GatewayId { get; init; } = Environment.MachineName;

    public PolicyOptions Policy { get; init; } = new();
    public PseudonymizationOptions Pseudonymization { get; init; } = new();
    public SiteBrokerOptions Mqtt { get; init; } = new();
    public UpstreamOptions Upstream { get; init; } = new();

    /// <summary><c>Gateway:Upstreams:{name}</c>: one upstream per region (notice §7); none: <see cref="Upstream"/> is the site region's.</summary>
    public Dictionary<string, RegionalUpstreamOptions> Upstreams { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary><c>Gateway:Site</c>: the site's region.</summary>
    public SiteOptions Site { get; init; } = new();
    public OutboxOptions Outbox { get; init; } = new();
    public SecurityOptions Security { get; init; } = new();
    public QuarantineOptions Quarantine { get; init; } = new();
    public LearnedSecretsOptions LearnedSecrets { get; init; } = new();

    /// <summary><c>Gateway:Registry</c>: the retention of the registry of the data subjects' choices (notice 8).</summary>
    public RegistryOptions Registry { get; init; } = new();
    public AdminOptions Admin { get; init; } = new();

    /// <summary><c>Gateway:Ingress</c>: the site broker (default) or a worker of a cluster (<c>mqtt-shared</c>, <c>amqp</c>).</summary>
    public IngressOptions Ingress { get; init; } = new();

    /// <summary>
    /// The settings the MQTT side runs with; a worker's upstream client id is derived from its ingress client id when
    /// left at the default, so that N workers never share one upstream session (<see cref="IngressOptions.UpstreamClientId"/>).
    /// </summary>
    public MqttGatewaySettings MqttSettings => new(Mqtt, EffectiveUpstream, Outbox, DataDirectory, GatewayId, Security, Quarantine) { Ingress = Ingress, Site = Site, Upstreams = Upstreams };

    /// <summary>The upstreams outputs may go to, one per region (the single <c>Gateway:Upstream</c> as the site region's when none is named).</summary>
    public IReadOnlyList<UpstreamRoute> Routes => Residencies.Routes(EffectiveUpstream, Upstreams, Site);

    private UpstreamOptions EffectiveUpstream =>
        Ingress.IsSiteBroker ? Upstream : Upstream with { ClientId = Ingress.UpstreamClientId(Upstream.ClientId, GatewayId) };

    public static string DefaultDataDirectory { get; } =
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "telemetry-gateway");

    /// <summary>The shipped policy, next to the executable; used when <c>Gateway:Policy:Path</c> is not set.</summary>
    public static string DefaultPolicyPath { get; } = Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add("Gateway:DataDirectory must not be empty");
        }
        if (string.IsNullOrWhiteSpace(Policy.Path))
        {
            errors.Add("Gateway:Policy:Path must not be empty");
        }
        else if (!File.Exists(Policy.Path))
        {
            errors.Add($"Gateway:Policy:Path: file '{Policy.Path}' does not exist");
        }
        if (Pseudonymization.KeyFile is { } keyFile)
        {
            if (!File.Exists(keyFile))
            {
                errors.Add($"Gateway:Pseudonymization:KeyFile: file '{keyFile}' does not exist");
            }
            else if (new FileInfo(keyFile).Length < PseudonymizationKey.MinimumLength)
            {
                errors.Add($"Gateway:Pseudonymization:KeyFile: the key must be at least {PseudonymizationKey.MinimumLength} bytes");
            }
        }
        for (var i = 0; i < Pseudonymization.PreviousKeyFiles.Length; i++)
        {
            var previous = Pseudonymization.PreviousKeyFiles[i];
            if (!File.Exists(previous))
            {
                errors.Add($"Gateway:Pseudonymization:PreviousKeyFiles:{i}: file '{previous}' does not exist");
            }
            else if (new FileInfo(previous).Length < PseudonymizationKey.MinimumLength)
            {
                errors.Add($"Gateway:Pseudonymization:PreviousKeyFiles:{i}: the key must be at least {PseudonymizationKey.MinimumLength} bytes");
            }
        }
        if (string.IsNullOrWhiteSpace(GatewayId))
        {
            errors.Add("Gateway:GatewayId must not be empty");
        }
        errors.AddRange(Mqtt.Validate("Gateway:Mqtt"));
        errors.AddRange(Upstream.Validate("Gateway:Upstream"));
        errors.AddRange(Residencies.Validate(Upstream, Upstreams, Site));
        if (Upstream.Batch.Enabled && !Upstream.IsConfigured && Upstreams.Count == 0)
        {
            errors.Add("Gateway:Upstream:Batch:Enabled needs a cloud upstream (Gateway:Upstream:Url or Gateway:Upstreams); the site broker's filtered/... topics get outputs one by one");
        }
        errors.AddRange(Outbox.Validate("Gateway:Outbox"));
        errors.AddRange(Security.Validate("Gateway:Security", Mqtt));
        errors.AddRange(Quarantine.Validate("Gateway:Quarantine"));
        errors.AddRange(LearnedSecrets.Validate("Gateway:LearnedSecrets"));
        errors.AddRange(Registry.Validate(RegistryOptions.SectionName));
        errors.AddRange(Admin.Validate(AdminOptions.SectionName));
        if (Policy.WatchInterval < TimeSpan.Zero)
        {
            errors.Add("Gateway:Policy:WatchInterval must not be negative (00:00:00 turns the file watch off)");
        }
        errors.AddRange(Ingress.Validate("Gateway:Ingress", Upstream.IsConfigured || Upstreams.Count > 0));
        if (!Ingress.IsSiteBroker && Pseudonymization.KeyFile is null)
        {
            // A key generated per worker would give one device a different pseudonym on each worker.
            errors.Add($"Gateway:Pseudonymization:KeyFile is required in ingress mode '{Ingress.Mode}': every worker must use the same key");
        }
        if (Upstream.IsAmqp && Ingress.Mode != IngressOptions.Amqp)
        {
            errors.Add($"Gateway:Upstream:Url: an amqp:// upstream (an exchange on the cluster) needs ingress mode '{IngressOptions.Amqp}'");
        }
        if (!Ingress.IsSiteBroker && Ingress.UpstreamClientIdError(Upstream.ClientId, GatewayId) is { } clientIdError)
        {
            errors.Add(clientIdError);
        }
        return errors;
    }

    /// <summary>The configured key file, or the key generated once in the data directory.</summary>
    /// <summary>The keys rotated out, in the order configured (<see cref="PseudonymizationOptions.PreviousKeyFiles"/>).</summary>
    public IReadOnlyList<PseudonymizationKey> LoadPreviousKeys() => [.. Pseudonymization.PreviousKeyFiles.Select(PseudonymizationKey.FromFile)];

    public PseudonymizationKey LoadKey() =>
        Pseudonymization.KeyFile is { } keyFile ? PseudonymizationKey.FromFile(keyFile) : PseudonymizationKey.LoadOrCreate(DataDirectory);
}

/// <summary><c>Gateway:Policy</c>.</summary>
public sealed record PolicyOptions
{
    public string Path { get; init; } = GatewayOptions.DefaultPolicyPath;

    /// <summary>How often the file is checked for a change to reload (00:00:00: never; SIGHUP and the admin API still reload).</summary>
    public TimeSpan WatchInterval { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary><c>Gateway:Pseudonymization</c>.</summary>
public sealed record PseudonymizationOptions
{
    /// <summary>A file of at least 32 random bytes; when unset, a key is generated once in the data directory.</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// Keys rotated out (files as <see cref="KeyFile"/>): nothing is pseudonymized with them any more, but a device's report
    /// names its pseudonyms under them too, so the cloud side finds what was sent before the rotation.
    /// </summary>
    public string[] PreviousKeyFiles { get; init; } = [];
}
