using System.Buffers;
using System.Text;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Policy;

/// <summary>
/// Purpose entries: a stream's <c>purposes</c> are keyed by an entry name, each naming the notice's purpose it serves
/// (its <c>purpose</c>, by default its name). Two entries may serve one purpose on different legal bases.
/// </summary>
public sealed class PurposeEntriesTests
{
    private const string Device = "SERIALCANARY0001";
    private const string Topic = "t/SERIALCANARY0001";
    private static readonly byte[] s_payload = Encoding.UTF8.GetBytes("""{"a":1,"owner":"x"}""");

    // After-sales service on contract for every device, and the owner's contact details only with consent.
    private const string TwoEntries = """
        {
          "id": "p", "version": "1",
          "streams": {
            "s": {
              "topic": "t/{sn}", "categories": ["device", "owner"],
              "purposes": {
                "after-sales-service": { "legalBasis": "contract", "retention": "P30D", "topic": "o/{sn}",
                                         "captures": { "sn": "pseudonymize" }, "fields": { "a": "keep" } },
                "after-sales-owner-contact": { "purpose": "after-sales-service", "legalBasis": "consent", "retention": "P30D",
                                               "topic": "contact/{sn}", "captures": { "sn": "pseudonymize" },
                                               "fields": { "a": "keep", "owner": "keep" } }
              }
            }
          }
        }
        """;

    [Fact]
    public void An_entry_without_a_purpose_property_serves_the_purpose_its_name_names()
    {
        var purpose = TestPolicies.Default.Streams.Single(s => s.Name == "firmware").Purposes.Single(p => p.Name == "after-sales-service");
        Assert.Equal(Purpose.AfterSalesService, purpose.Purpose);
    }

    [Fact]
    public void Two_entries_of_one_purpose_compile_with_their_own_names_and_bases()
    {
        var stream = TestPolicies.CompileValid(TwoEntries).Streams.Single();

        Assert.Equal(["after-sales-service", "after-sales-owner-contact"], stream.Purposes.Select(p => p.Name));
        Assert.All(stream.Purposes, p => Assert.Equal(Purpose.AfterSalesService, p.Purpose));
        Assert.Equal([LegalBasis.Contract, LegalBasis.Consent], stream.Purposes.Select(p => p.LegalBasis));
        Assert.All(stream.Purposes, p => Assert.Equal("after-sales-service", p.OutputTags.Purpose));
    }

    [Fact]
    public void Each_entry_produces_its_own_output_and_the_consent_entry_needs_consent_for_its_purpose()
    {
        var policy = TestPolicies.CompileValid(TwoEntries);
        var consent = new Consents();
        using var minimizer = new Minimizer(policy, TestPolicies.Key, consent);

        var without = minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));
        Assert.Equal(["after-sales-service"], without.Outputs.ToArray().Select(o => o.Tags.Name));
        Assert.Equal("""{"a":1}""", Encoding.UTF8.GetString(without.Outputs.Span[0].Payload.Span));

        consent.Granted = Purpose.AfterSalesService;
        var with = minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));

        var outputs = with.Outputs.ToArray();
        Assert.Equal(["after-sales-service", "after-sales-owner-contact"], outputs.Select(o => o.Tags.Name));
        Assert.Equal("""{"a":1,"owner":"x"}""", Encoding.UTF8.GetString(outputs[1].Payload.Span));
        Assert.StartsWith("contact/", Encoding.UTF8.GetString(outputs[1].Topic.Span), StringComparison.Ordinal);
        Assert.StartsWith("o/", Encoding.UTF8.GetString(outputs[0].Topic.Span), StringComparison.Ordinal);
        var contract = policy.Streams[0].Purposes[0];
        var consented = policy.Streams[0].Purposes[1];
        Assert.Equal(2, contract.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(0, contract.Counters[ProcessingAction.NoConsent]);
        Assert.Equal(1, consented.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(1, consented.Counters[ProcessingAction.NoConsent]);
    }

    [Fact]
    public void Objection_and_restriction_act_on_the_purpose_id_of_every_entry_that_serves_it()
    {
        var policy = TestPolicies.CompileValid(TwoEntries.Replace("\"contract\"", "\"consent\"", StringComparison.Ordinal));
        var choices = new Choices();
        choices.Record(ChoiceAction.Grant, Purpose.AfterSalesService);
        using var minimizer = new Minimizer(policy, TestPolicies.Key,
            [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)]);
        Assert.Equal(2, minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload)).Outputs.Length);

        choices.Record(ChoiceAction.Restrict, Purpose.ProductImprovement);

        Assert.Equal(0, minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload)).Outputs.Length);
        Assert.All(policy.Streams[0].Purposes, p => Assert.Equal(1, p.Counters[ProcessingAction.Restricted]));
    }

    [Fact]
    public void A_reload_carries_counters_over_per_entry_not_per_purpose()
    {
        var generations = new PolicyGenerations(TestPolicies.CompileValid(TwoEntries));
        var consent = new Consents { Granted = Purpose.AfterSalesService };
        using (var minimizer = new Minimizer(generations.Current.Policy, TestPolicies.Key, consent))
        {
            minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));
            minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));
        }
        using (var minimizer = new Minimizer(generations.Current.Policy, TestPolicies.Key))
        {
            minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));
        }

        // Version 2 swaps the order of the entries: the counts follow the names, not the positions.
        var reversed = TwoEntries.Replace("\"version\": \"1\"", "\"version\": \"2\"", StringComparison.Ordinal);
        var contractStart = reversed.IndexOf("\"after-sales-service\": {", StringComparison.Ordinal);
        var consentStart = reversed.IndexOf("\"after-sales-owner-contact\"", StringComparison.Ordinal);
        var end = reversed.IndexOf("\n      }\n    }", consentStart, StringComparison.Ordinal);
        var contractEntry = reversed[contractStart..consentStart].TrimEnd().TrimEnd(',');
        var consentEntry = reversed[consentStart..end].TrimEnd();
        reversed = reversed[..contractStart] + consentEntry + ",\n        " + contractEntry + reversed[end..];
        var reload = generations.Reload(Encoding.UTF8.GetBytes(reversed));

        Assert.True(reload.Succeeded, string.Join("\n", reload.Errors));
        var purposes = generations.Current.Policy.Streams[0].Purposes;
        Assert.Equal(["after-sales-owner-contact", "after-sales-service"], purposes.Select(p => p.Name));
        Assert.Equal(2, purposes[0].Counters[ProcessingAction.Forwarded]);
        Assert.Equal(1, purposes[0].Counters[ProcessingAction.NoConsent]);
        Assert.Equal(3, purposes[1].Counters[ProcessingAction.Forwarded]);
        Assert.Equal(0, purposes[1].Counters[ProcessingAction.NoConsent]);
    }

    [Fact]
    public void An_entry_that_now_serves_another_purpose_starts_its_counts_afresh()
    {
        var generations = new PolicyGenerations(TestPolicies.CompileValid(TwoEntries));
        using (var minimizer = new Minimizer(generations.Current.Policy, TestPolicies.Key))
        {
            minimizer.Minimize(Topic, new ReadOnlySequence<byte>(s_payload));
        }
        var changed = TwoEntries.Replace("\"purpose\": \"after-sales-service\", \"legalBasis\": \"consent\"", "\"purpose\": \"communication\", \"legalBasis\": \"consent\"", StringComparison.Ordinal);

        Assert.True(generations.Reload(Encoding.UTF8.GetBytes(changed)).Succeeded);

        var purposes = generations.Current.Policy.Streams[0].Purposes;
        Assert.Equal(1, purposes[0].Counters[ProcessingAction.Forwarded]);
        Assert.Equal(Purpose.Communication, purposes[1].Purpose);
        Assert.Equal(0, purposes[1].Counters[ProcessingAction.NoConsent]);
    }

    [Fact]
    public void Reports_an_unknown_purpose_a_bad_entry_name_and_colliding_outputs_with_their_paths()
    {
        var compilation = TestPolicies.Compile("""
            {
              "id": "p", "version": "1",
              "streams": {
                "s": {
                  "topic": "t/{sn}", "categories": ["device"],
                  "purposes": {
                    "after-sales-service": { "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} },
                    "second": { "purpose": "after-sales-service", "legalBasis": "contract", "retention": "P1D", "topic": "o", "fields": {} },
                    "third": { "purpose": "after-sales-servic", "legalBasis": "contract", "retention": "P1D", "topic": "p", "fields": {} },
                    "fourth": { "purpose": 3, "legalBasis": "contract", "retention": "P1D", "topic": "q", "fields": {} },
                    "no such purpose": { "purpose": "diagnostics", "legalBasis": "contract", "retention": "P1D", "topic": "r", "fields": {} },
                    "": { "purpose": "diagnostics", "legalBasis": "contract", "retention": "P1D", "topic": "s", "fields": {} },
                    "unnamed": { "legalBasis": "contract", "retention": "P1D", "topic": "u", "fields": {} }
                  }
                }
              }
            }
            """);

        Assert.Null(compilation.Policy);
        var errors = compilation.Errors.Select(e => e.ToString()).ToList();
        Assert.Equal(6, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("$.streams.s.purposes.second.topic:", StringComparison.Ordinal) && e.Contains("collide", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("$.streams.s.purposes.third.purpose:", StringComparison.Ordinal) && e.Contains("unknown purpose 'after-sales-servic'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("$.streams.s.purposes.fourth.purpose:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("non-empty letters, digits", StringComparison.Ordinal) && e.Contains("no such purpose", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("non-empty letters, digits", StringComparison.Ordinal) && !e.Contains("no such purpose", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("$.streams.s.purposes.unnamed:", StringComparison.Ordinal) && e.Contains("\"purpose\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_entries_of_one_purpose_may_share_an_output_topic_template_only_if_their_purposes_differ()
    {
        var compilation = TestPolicies.Compile(TwoEntries.Replace("contact/{sn}", "o/{sn}", StringComparison.Ordinal));
        Assert.Contains(compilation.Errors, e => e.Path == "$.streams.s.purposes.after-sales-owner-contact.topic");

        var otherPurpose = TwoEntries.Replace("contact/{sn}", "o/{sn}", StringComparison.Ordinal)
            .Replace("\"purpose\": \"after-sales-service\", \"legalBasis\": \"consent\"", "\"purpose\": \"communication\", \"legalBasis\": \"consent\"", StringComparison.Ordinal);
        Assert.Equal(2, TestPolicies.CompileValid(otherPurpose).Streams[0].Purposes.Count);
    }

    private sealed class Consents : IConsentRegistry
    {
        public Purpose? Granted { get; set; }

        public bool HasConsent(Purpose purpose, ReadOnlySpan<char> device) => Granted == purpose && device.SequenceEqual(Device);
    }

    private sealed class Choices : IChoicesSource
    {
        public ChoicesSnapshot Current { get; private set; } = ChoicesSnapshot.Empty;

        public void Record(ChoiceAction action, params Purpose[] purposes)
        {
            var request = new ChoiceRequest(Device, action, PurposeSet.Of(purposes), false, "2025-09-26", "test", ChoiceSource.Cli);
            Current = Current.With(Device, Current.Of(Device).Apply(request));
        }
    }
}
