using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace TelemetryGateway.EndToEnd.Tests.Support;

/// <summary>
/// Debian's Prometheus on a loopback port with a temporary data directory, scraping the shipped scrape configuration
/// (deploy/prometheus/prometheus.yml) with its target pointed at a gateway's admin port and every interval at 1 s.
/// Queried through its HTTP API; stopped by its process id.
/// </summary>
internal sealed class Prometheus : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tg-prometheus-").FullName;
    private readonly HttpClient _http;
    private Process? _process;

    private Prometheus(int port)
    {
        Port = port;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(20) };
    }

    public int Port { get; }

    public static string ShippedConfig => Path.Combine(AppContext.BaseDirectory, "deploy", "prometheus", "prometheus.yml");

    public static async Task<Prometheus> StartAsync(int adminPort)
    {
        var prometheus = new Prometheus(Loopback.FreePort());
        var config = (await File.ReadAllTextAsync(ShippedConfig))
            .Replace("127.0.0.1:9464", $"127.0.0.1:{adminPort}", StringComparison.Ordinal)
            .Replace(": 15s", ": 1s", StringComparison.Ordinal);
        var configFile = Path.Combine(prometheus._directory, "prometheus.yml");
        await File.WriteAllTextAsync(configFile, config);
        prometheus._process = Process.Start(new ProcessStartInfo("prometheus",
        [
            $"--config.file={configFile}",
            $"--storage.tsdb.path={Path.Combine(prometheus._directory, "data")}",
            $"--web.listen-address=127.0.0.1:{prometheus.Port}",
            "--log.level=warn",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("prometheus did not start");
        prometheus._process.OutputDataReceived += (_, _) => { };
        prometheus._process.ErrorDataReceived += (_, _) => { };
        prometheus._process.BeginOutputReadLine();
        prometheus._process.BeginErrorReadLine();
        await Loopback.WaitForListenerAsync(prometheus.Port, TimeSpan.FromSeconds(20), () => prometheus._process.HasExited ? "prometheus exited" : "");
        return prometheus;
    }

    /// <summary>An instant query; each result's labels and value (NaN for a NaN sample).</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string query)
    {
        var json = await _http.GetStringAsync(new Uri($"api/v1/query?query={Uri.EscapeDataString(query)}", UriKind.Relative));
        using var document = JsonDocument.Parse(json);
        var data = document.RootElement.GetProperty("data");
        var results = new List<(IReadOnlyDictionary<string, string>, double)>();
        if (data.GetProperty("resultType").GetString() == "scalar")
        {
            results.Add((new Dictionary<string, string>(), ParseValue(data.GetProperty("result"))));
            return results;
        }
        foreach (var item in data.GetProperty("result").EnumerateArray())
        {
            var labels = item.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
            results.Add((labels, ParseValue(item.GetProperty("value"))));
        }
        return results;
    }

    /// <summary>The single value of <paramref name="query"/> once it equals <paramref name="expected"/>, or the last one seen after the timeout.</summary>
    public async Task<double> EventuallyAsync(string query, double expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = double.NaN;
        while (DateTime.UtcNow < deadline)
        {
            var results = await QueryAsync(query);
            if (results.Count == 1)
            {
                last = results[0].Value;
                if (last == expected)
                {
                    return last;
                }
            }
            await Task.Delay(250);
        }
        return last;
    }

    private static double ParseValue(JsonElement pair) => double.Parse(pair[1].GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        _http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
