using System.Text;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Core.Tests.Support;

/// <summary>Policies and keys for tests: the shipped default policy, and small inline ones.</summary>
public static class TestPolicies
{
    public static string DefaultPolicyPath => Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");

    public static CompiledPolicy Default { get; } = PolicyCompiler.CompileFile(DefaultPolicyPath);

    /// <summary>A fixed key, so pseudonyms are reproducible across test runs.</summary>
    public static PseudonymizationKey Key { get; } = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static PolicyCompilation Compile(string json) => PolicyCompiler.Compile(Encoding.UTF8.GetBytes(json));

    public static CompiledPolicy CompileValid(string json)
    {
        var compilation = Compile(json);
        Assert.True(compilation.Succeeded, string.Join(Environment.NewLine, compilation.Errors));
        return compilation.Policy!;
    }

    /// <summary>A one-stream policy (<c>t/{sn}</c>, purpose diagnostics) whose fields are <paramref name="fieldsJson"/>.</summary>
    public static CompiledPolicy WithFields(string fieldsJson) => CompileValid($$"""
        {
          "id": "test", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}", "categories": ["device"],
              "purposes": {
                "diagnostics": {
                  "legalBasis": "legitimate-interest", "retention": "P30D", "topic": "out/{sn}",
                  "captures": { "sn": "keep" },
                  "fields": {{fieldsJson}}
                }
              }
            }
          }
        }
        """);
}
