using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Host.Cli;

/// <summary><c>policy validate FILE</c>: compiles a policy and lists every error with its JSON path.</summary>
internal static class PolicyCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args is not ["validate", var path])
        {
            return Usage.Error(error, "expected: policy validate FILE");
        }
        if (TryCompile(path, error) is not { } policy)
        {
            return Usage.Failure;
        }
        output.WriteLine($"{path}: valid policy {policy.Tag} ({policy.Streams.Count} streams, {policy.Streams.Sum(s => s.Purposes.Count)} stream purposes)");
        return Usage.Success;
    }

    /// <summary>Reads and compiles a policy file; on failure writes why (every error, with its JSON path) and returns null.</summary>
    public static CompiledPolicy? TryCompile(string path, TextWriter error)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"telemetry-gateway: cannot read policy '{path}': {e.Message}");
            return null;
        }
        var compilation = PolicyCompiler.Compile(bytes);
        if (compilation.Policy is null)
        {
            error.WriteLine($"{path}: invalid policy, {compilation.Errors.Count} error(s):");
            foreach (var item in compilation.Errors)
            {
                error.WriteLine($"  {item}");
            }
        }
        return compilation.Policy;
    }
}
