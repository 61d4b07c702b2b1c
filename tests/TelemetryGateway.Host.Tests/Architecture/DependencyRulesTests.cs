namespace TelemetryGateway.Host.Tests.Architecture;

/// <summary>The dependency rules of the architecture: Core is pure; Host → {Mqtt, Http, Registry} → Core.</summary>
public sealed class DependencyRulesTests
{
    [Fact]
    public void Core_references_no_mqtt_http_yarp_or_hosting_assembly()
    {
        var core = typeof(Core.Pipeline.Minimizer).Assembly;
        var forbidden = new[] { "MQTTnet", "Yarp", "Microsoft.AspNetCore", "Microsoft.Extensions.Hosting", "TelemetryGateway.Mqtt", "TelemetryGateway.Http", "TelemetryGateway.Host", "telemetry-gateway" };
        var references = core.GetReferencedAssemblies().Select(r => r.Name!).ToList();
        Assert.DoesNotContain(references, name => forbidden.Any(f => name.StartsWith(f, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public void Mqtt_adapter_references_core_and_no_other_gateway_assembly()
    {
        var mqtt = typeof(Mqtt.MqttGatewayRegistration).Assembly;
        var ours = mqtt.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("TelemetryGateway", StringComparison.Ordinal) || n == "telemetry-gateway");
        Assert.Equal(["TelemetryGateway.Core"], ours);
    }

    [Fact]
    public void Http_adapter_references_core_and_no_other_gateway_assembly()
    {
        var http = typeof(Http.HttpIngressOptions).Assembly;
        var ours = http.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("TelemetryGateway", StringComparison.Ordinal) || n == "telemetry-gateway");
        Assert.Equal(["TelemetryGateway.Core"], ours);
    }

    [Fact]
    public void Registry_adapter_references_core_and_no_other_gateway_assembly()
    {
        var registry = typeof(Registry.ChoiceRegistry).Assembly;
        var references = registry.GetReferencedAssemblies().Select(r => r.Name!).ToList();
        Assert.Equal(["TelemetryGateway.Core"], references.Where(n => n.StartsWith("TelemetryGateway", StringComparison.Ordinal) || n == "telemetry-gateway"));
        Assert.DoesNotContain(references, name => name.StartsWith("MQTTnet", StringComparison.Ordinal) || name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void Http_adapter_references_no_mqtt_assembly()
    {
        var http = typeof(Http.HttpIngressOptions).Assembly;
        Assert.DoesNotContain(http.GetReferencedAssemblies(), r => r.Name!.StartsWith("MQTTnet", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Mqtt_adapter_references_no_yarp_assembly()
    {
        var mqtt = typeof(Mqtt.MqttGatewayRegistration).Assembly;
        Assert.DoesNotContain(mqtt.GetReferencedAssemblies(), r => r.Name!.StartsWith("Yarp", StringComparison.OrdinalIgnoreCase));
    }
}
