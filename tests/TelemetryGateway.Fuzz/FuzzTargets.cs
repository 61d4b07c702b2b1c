namespace TelemetryGateway.Fuzz;

/// <summary>How a target's outputs are checked for planted canaries, besides crashes, hangs and engine faults.</summary>
internal enum CanaryCheck
{
    /// <summary>JSON inputs: a canary may survive only where the fuzzer moved it out of the JSON path a seed planted it at.</summary>
    JsonPaths,

    /// <summary>Text logs: a canary may survive only where the fuzzer changed the seed line that carried it.</summary>
    TextLines,

    /// <summary>
    /// Protobuf: a canary may survive only where the fuzzer moved it out of the field path (field numbers from the root,
    /// nested messages found by parsing) a seed planted it at.
    /// </summary>
    ProtobufPaths,

    /// <summary>
    /// SOLIX: inside the TLV binary of the envelope's data, a canary may survive only where the fuzzer moved it out of
    /// the field (message type and field byte) a seed planted it in; a canary anywhere else in the input is a move.
    /// </summary>
    SolixFields,

    /// <summary>No canary check: crashes, hangs and engine faults only.</summary>
    None,
}

/// <summary>
/// One fuzz target: the inputs are payloads published on <see cref="Topic"/> under the policy <see cref="Policy"/>, so
/// the stream that matches picks the parser (JSON, SOLIX envelope and TLV, protobuf, text log). Seeds and the
/// <c>never</c> canaries planted in them are under <c>tests/testdata/fuzz/{Name}/</c>.
/// </summary>
internal sealed record FuzzTarget(string Name, string Topic, string Policy = "solix-default.json", CanaryCheck Check = CanaryCheck.JsonPaths)
{
    public string PolicyPath => Path.Combine(AppContext.BaseDirectory, "policies", Policy);
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
        new("text-log", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/log", Check: CanaryCheck.TextLines),
        new("solix-param-info", "dt/anker_power/A17C0/CUTUTT17MUSXAJ4R/param_info", Check: CanaryCheck.SolixFields),
        new("solix-state-info", "dt/anker_power/A17C0/CUTUTT17MUSXAJ4R/state_info", Check: CanaryCheck.SolixFields),
        new("protobuf-status", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/pb/status", "protobuf-devices.json", CanaryCheck.ProtobufPaths),
        new("protobuf-network", "dt/anker_power/A17C0/WK1DEGZD8PCF32ER/pb/network", "protobuf-devices.json", CanaryCheck.ProtobufPaths),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
