using System.Reflection;
using TelemetryGateway.Core.Diagnostics;

namespace TelemetryGateway.Core.Tests.Diagnostics;

/// <summary>Log event ids are numbered in one place, and no two events share one.</summary>
public sealed class EventIdsTests
{
    [Fact]
    public void Every_event_id_is_used_by_one_event_only()
    {
        var ids = typeof(EventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (f.Name, Id: (int)f.GetRawConstantValue()!))
            .ToList();

        var shared = ids.GroupBy(i => i.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(i => i.Name))}").ToList();

        Assert.True(ids.Count > 40, $"only {ids.Count} event ids found");
        Assert.Empty(shared);
    }
}
