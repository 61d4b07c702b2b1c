namespace TelemetryGateway.Fuzz;

/// <summary>
/// One fuzz target: the inputs are payloads published on <see cref="Topic"/>, so the policy stream that matches it picks
/// the parser (JSON today; SOLIX TLV, protobuf and text logs once their streams exist). Seeds and the <c>never</c>
/// canaries planted in them are under <c>tests/testdata/fuzz/{Name}/</c>.
/// </summary>
internal sealed record FuzzTarget(string Name, string Topic)
{
    public string Directory => Path.Combine(AppContext.BaseDirectory, "fuzz", Name);
    public string SeedDirectory => Path.Combine(Directory, "seeds");
    public string CanaryFile => Path.Combine(Directory, "canaries.txt");
}

/// <summary>Every target; adding a format is one entry here and one seed folder.</summary>
internal static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("json-status", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/status"),
        new("json-network", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/network"),
        new("json-settings", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/settings"),
        new("json-commissioning", "app/installer-699/commissioning/WK1DEGZD8PCF32ER"),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
