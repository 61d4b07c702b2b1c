using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Policy;

namespace TelemetryGateway.Benchmarks;

/// <summary>
/// What every benchmark shares: the shipped policy, a fixed pseudonymization key, and the lookup of the files the
/// project copies next to the binary.
/// </summary>
public static class BenchmarkAssets
{
    /// <summary>
    /// A fixed, obviously fake key, so pseudonyms (and so output sizes) are the same on every run.
    /// Returned as a copy: the JSON node baseline needs the raw bytes for its one-shot HMAC.
    /// </summary>
    public static byte[] KeySecret() => [.. Enumerable.Range(0, PseudonymizationKey.MinimumLength).Select(i => (byte)i)];

    public static PseudonymizationKey Key() => PseudonymizationKey.FromBytes(KeySecret());

    public static CompiledPolicy Policy() => PolicyCompiler.CompileFile(Find("policies", "solix-default.json"));

    /// <summary>
    /// Finds a copied asset. BenchmarkDotNet runs each benchmark from a generated project nested in this project's
    /// output folder, so the search walks up from the running binary until it finds the file.
    /// </summary>
    public static string Find(string folder, string fileName)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, folder, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"'{folder}/{fileName}' is not next to the benchmark binary or any folder above it.", fileName);
    }
}
