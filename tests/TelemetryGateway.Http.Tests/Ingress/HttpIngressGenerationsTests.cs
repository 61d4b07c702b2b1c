using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using TelemetryGateway.Core.Keys;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Http.Ingress;
using TelemetryGateway.Http.Routing;

namespace TelemetryGateway.Http.Tests.Ingress;

/// <summary>The HTTP route bindings are part of the policy generation: rebound on a reload, and a reload that would break them is refused.</summary>
public sealed class HttpIngressGenerationsTests
{
    private static readonly string s_policyPath = Path.Combine(AppContext.BaseDirectory, "policies", "solix-default.json");
    private static readonly PseudonymizationKey s_key = PseudonymizationKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public void A_reload_rebinds_the_routes_to_the_new_policy_and_its_tags()
    {
        var (generations, http) = Start();
        var before = http.Current;

        var reload = generations.Reload(Edit(policy => policy["version"] = "2"));

        Assert.True(reload.Succeeded, string.Join("\n", reload.Errors));
        var after = http.Current;
        Assert.NotSame(before, after);
        Assert.Same(generations.Current, after.Policy);
        var route = after.Routes.Find("c")!;
        Assert.Same(generations.Current.Policy.Streams.Single(s => s.Name == "commissioning").Purposes[0], route.Purpose);
        Assert.StartsWith("solix-default@2+", route.Purpose.OutputTags.Policy, StringComparison.Ordinal);
        Assert.StartsWith("solix-default@1+", before.Routes.Find("c")!.Purpose.OutputTags.Policy, StringComparison.Ordinal);
        Assert.Same(generations.Current.Policy, after.Minimizers.Policy);
    }

    [Fact]
    public void A_reload_whose_policy_loses_a_routed_stream_is_refused_and_nothing_changes()
    {
        var (generations, http) = Start();
        var before = (generations.Current, http.Current);

        var reload = generations.Reload(Edit(policy => ((JsonObject)policy["streams"]!).Remove("commissioning")));

        Assert.False(reload.Succeeded);
        Assert.Contains(reload.Errors, e => e.StartsWith("HTTP ingress: ", StringComparison.Ordinal) && e.Contains("'commissioning' is not a stream", StringComparison.Ordinal));
        Assert.Equal(before, (generations.Current, http.Current));
    }

    private static (PolicyGenerations Generations, HttpIngressGenerations Http) Start()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(
            [
                new("ReverseProxy:Routes:c:ClusterId", "cloud"),
                new("ReverseProxy:Routes:c:Match:Path", "/api/commissioning"),
                new("ReverseProxy:Routes:c:Metadata:TelemetryGateway.Stream", "commissioning"),
                new("ReverseProxy:Routes:c:Metadata:TelemetryGateway.Purpose", "after-sales-service"),
                new("ReverseProxy:Clusters:cloud:Destinations:d:Address", "http://127.0.0.1:9/"),
            ])
            .Build();
        var section = configuration.GetSection("ReverseProxy");
        var generations = new PolicyGenerations(PolicyCompiler.CompileFile(s_policyPath));
        var (routes, errors) = IngressRouteCatalog.Build(section, generations.Current.Policy);
        Assert.Empty(errors);
        return (generations, new HttpIngressGenerations(generations, routes!, section, s_key, [new ConsentGate(NoConsentRecorded.Instance)]));
    }

    private static byte[] Edit(Action<JsonNode> edit)
    {
        var policy = JsonNode.Parse(File.ReadAllBytes(s_policyPath), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;
        edit(policy);
        return Encoding.UTF8.GetBytes(policy.ToJsonString());
    }
}
