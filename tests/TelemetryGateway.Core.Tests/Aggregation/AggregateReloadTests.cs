using System.Buffers;
using System.Text.Json;
using Google.Protobuf;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Aggregation;

/// <summary>
/// A policy reload while a window is open: an entry whose aggregate (window, groups, k, metrics, noise, topic) is
/// unchanged keeps its open window, now read from the new policy's field set; a changed entry starts a new window, and
/// its old one is released at its end (groups that meet the old k) or dropped, never merged into the new one.
/// </summary>
public sealed class AggregateReloadTests
{
    // Named first, so its metric comes first in the reloaded stream's field set: the unchanged entry's metrics then sit
    // at other slots of the one scan.
    private const string NewEntry = """
        "aa-aggregate": {
          "purpose": "business-performance", "legalBasis": "legitimate-interest", "retention": "P5Y",
          "topic": "agg/pb/output",
          "aggregate": { "window": "PT10S", "minDevices": 2, "metrics": { "output_power_w": { "stats": ["sum"] } } }
        },
        """;

    [Fact]
    public void An_unchanged_entry_keeps_its_open_window_and_a_changed_one_releases_its_old_window_at_its_end()
    {
        var (first, clock, firstMinimizer) = AggregationTests.Start(FormatAggregationTests.ProtobufPolicy);
        using var _ = firstMinimizer;
        var generations = new PolicyGenerations(first);
        var fleet = Enumerable.Range(0, 20).Select(d => FormatAggregationTests.Status(d, "A17C0")).ToList();
        for (var d = 0; d < 10; d++)
        {
            Publish(firstMinimizer, d, fleet[d]);
        }
        var reloaded = FormatAggregationTests.ProtobufPolicy
            .Replace("\"pi-aggregate\": {", NewEntry + "\"pi-aggregate\": {", StringComparison.Ordinal)
            .Replace("\"window\": \"PT10S\", \"minDevices\": 10,", "\"window\": \"PT10S\", \"minDevices\": 5,", StringComparison.Ordinal);
        var second = TestPolicies.CompileValid(reloaded);

        Assert.True(generations.Swap(second).Succeeded);
        foreach (var entry in second.Streams[0].Purposes.Where(p => p.Aggregator is not null))
        {
            entry.Aggregator!.Time = clock;
        }
        using var secondMinimizer = new Minimizer(second, TestPolicies.Key);
        for (var d = 10; d < 20; d++)
        {
            Publish(secondMinimizer, d, fleet[d]);
        }
        clock.Advance(TimeSpan.FromSeconds(10));

        var (oldImprovement, oldFleet) = (first.Streams[0].Purposes[1], first.Streams[0].Purposes[2]);
        var (added, improvement, fleetEntry) = (second.Streams[0].Purposes[1], second.Streams[0].Purposes[2], second.Streams[0].Purposes[3]);
        Assert.Equal(("aa-aggregate", "pi-aggregate", "bp-aggregate"), (added.Name, improvement.Name, fleetEntry.Name));
        Assert.Same(oldImprovement.Aggregator, improvement.Aggregator);
        Assert.NotSame(oldFleet.Aggregator, fleetEntry.Aggregator);
        // The unchanged entry: one window over both generations, twenty devices, every value where it belongs.
        var carried = Assert.Single(improvement.Aggregator!.ReleaseEnded());
        using (var json = JsonDocument.Parse(carried.Payload))
        {
            Assert.Equal(20, json.RootElement.GetProperty("devices").GetInt64());
            Assert.Equal(fleet.Sum(s => s.BatterySoc), json.RootElement.GetProperty("metrics").GetProperty("battery_soc").GetProperty("sum").GetDouble());
            Assert.Equal(fleet.Sum(s => s.TemperatureC), json.RootElement.GetProperty("metrics").GetProperty("temperature_c").GetProperty("sum").GetDouble(), 9);
        }
        // The changed entry: its old window (ten devices, the old k of 10) released at its end under the old rules, and
        // its new window (the other ten, k 5) on its own.
        AssertDevices(Assert.Single(oldFleet.Aggregator!.ReleaseEnded()), 10, fleet.Take(10).Sum(s => s.SolarPowerW));
        AssertDevices(Assert.Single(fleetEntry.Aggregator!.ReleaseEnded()), 10, fleet.Skip(10).Sum(s => s.SolarPowerW));
        Assert.True(oldFleet.Aggregator!.IsIdle);
        AssertDevices(Assert.Single(added.Aggregator!.ReleaseEnded()), 10, null);
    }

    [Fact]
    public void A_changed_entrys_old_window_under_its_k_is_dropped()
    {
        var (first, clock, firstMinimizer) = AggregationTests.Start(FormatAggregationTests.ProtobufPolicy);
        using var _ = firstMinimizer;
        var generations = new PolicyGenerations(first);
        for (var d = 0; d < 6; d++)
        {
            Publish(firstMinimizer, d, FormatAggregationTests.Status(d, "A17C0"));
        }

        Assert.True(generations.Swap(TestPolicies.CompileValid(FormatAggregationTests.ProtobufPolicy.Replace("\"minDevices\": 10,", "\"minDevices\": 4,", StringComparison.Ordinal))).Succeeded);
        clock.Advance(TimeSpan.FromSeconds(10));

        var reports = new List<Core.Aggregation.AggregateWindowReport>();
        Assert.Empty(first.Streams[0].Purposes[1].Aggregator!.ReleaseEnded(reports));
        Assert.Equal(1, Assert.Single(reports).Suppressed);
    }

    private static void Publish(Minimizer minimizer, int device, Proto.Telemetry.V1.DeviceStatus status) =>
        Assert.False(minimizer.Minimize(FormatAggregationTests.ProtobufTopic(device), new ReadOnlySequence<byte>(status.ToByteArray())).IsQuarantined);

    private static void AssertDevices(Core.Aggregation.AggregateRelease release, int devices, int? solarSum)
    {
        using var json = JsonDocument.Parse(release.Payload);
        Assert.Equal(devices, json.RootElement.GetProperty("devices").GetInt64());
        if (solarSum is { } sum)
        {
            Assert.Equal(sum, json.RootElement.GetProperty("metrics").GetProperty("solar_power_w").GetProperty("sum").GetDouble());
        }
    }
}
