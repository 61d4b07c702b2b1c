namespace TelemetryGateway.Host.Tests.Support;

/// <summary>Paths of the files the host tests use: the shipped policy next to the executable, and the copied corpus.</summary>
internal static class TestFiles
{
    public static string DefaultPolicy => Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");
    public static string Corpus => Path.Combine(AppContext.BaseDirectory, "testdata", "corpus", "messages.ndjson");
    public static string GatewayDll => Path.Combine(AppContext.BaseDirectory, "telemetry-gateway.dll");
}

/// <summary>A temporary directory, deleted with the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tg-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string WriteKey()
    {
        var path = File("key.bin");
        System.IO.File.WriteAllBytes(path, Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray());
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
