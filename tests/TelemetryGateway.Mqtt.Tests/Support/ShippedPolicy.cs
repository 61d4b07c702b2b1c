using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Mqtt.Tests.Support;

/// <summary>The shipped SOLIX policy and a fixed test key.</summary>
internal static class ShippedPolicy
{
    public static CompiledPolicy Policy { get; } = PolicyCompiler.CompileFile(Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json"));

    public static PseudonymizationKey Key { get; } = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static CompiledStream Stream(string name) => Policy.Streams.Single(s => s.Name == name);
}
