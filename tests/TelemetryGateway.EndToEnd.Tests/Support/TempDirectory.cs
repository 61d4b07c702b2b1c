namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>A temporary directory with a fixed pseudonymization key file, deleted with the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tg-e2e-").FullName;

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public string DataDirectory => Combine("data");

    public string KeyFile
    {
        get
        {
            var path = Combine("key.bin");
            if (!File.Exists(path))
            {
                File.WriteAllBytes(path, Enumerable.Range(0, 32).Select(i => (byte)(i * 13 + 5)).ToArray());
            }
            return path;
        }
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
