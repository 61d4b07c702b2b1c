using System.Text;
using System.Text.Json;
using TelemetryGateway.Core.Pipeline;
using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Rights;
using TelemetryGateway.Core.Tests.Support;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Tests.Corpus;

/// <summary>
/// The shipped policy's commissioning stream has two entries of <c>after-sales-service</c>: on contract for every device
/// (owner contact dropped) and <c>after-sales-owner-contact</c> on consent (notice §3.6, §5 table: the owner's name,
/// e-mail, phone and address, for after-sales service with consent). The corpus's commissioning records through the
/// real gates: without consent the owner's contact never leaves; with consent for after-sales-service it leaves only in
/// the consent entry's output; after a withdrawal it no longer leaves. Everything else the corpus plants as
/// <c>never</c> (Wi-Fi, password, the installer's contact, the exact position) never leaves either way.
/// </summary>
public sealed class OwnerContactConsentTests
{
    private const string ContractEntry = "after-sales-service";
    private const string ConsentEntry = "after-sales-owner-contact";

    public static TheoryData<string, Segmentation> Cases()
    {
        var data = new TheoryData<string, Segmentation>();
        foreach (var message in Commissioning())
        {
            foreach (var segmentation in Enum.GetValues<Segmentation>())
            {
                data.Add(message.Id, segmentation);
            }
        }
        return data;
    }

    [Fact]
    public void The_shipped_commissioning_stream_has_a_contract_entry_and_a_consent_entry_for_after_sales_service()
    {
        var stream = TestPolicies.Default.Streams.Single(s => s.Name == "commissioning");

        Assert.Equal([ContractEntry, ConsentEntry], stream.Purposes.Select(p => p.Name));
        Assert.All(stream.Purposes, p => Assert.Equal(Purpose.AfterSalesService, p.Purpose));
        Assert.Equal([LegalBasis.Contract, LegalBasis.Consent], stream.Purposes.Select(p => p.LegalBasis));
        Assert.True(Commissioning().Count >= 2, "the corpus must hold commissioning records");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Owner_contact_leaves_only_through_the_consent_entry_and_only_while_consent_is_granted(string id, Segmentation segmentation)
    {
        var message = Commissioning().Single(m => m.Id == id);
        var device = message.Topic[(message.Topic.LastIndexOf('/') + 1)..];
        var ownerContact = OwnerContact(message.Payload);
        Assert.Equal(4, ownerContact.Count);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        var choices = new Choices(device);
        using var minimizer = new Minimizer(policy, TestPolicies.Key,
            [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)]);

        var before = Run(minimizer, message, segmentation);
        choices.Record(ChoiceAction.Grant);
        var granted = Run(minimizer, message, segmentation);
        choices.Record(ChoiceAction.Withdraw);
        var withdrawn = Run(minimizer, message, segmentation);

        Assert.Equal([ContractEntry], before.Select(o => o.Entry));
        Assert.Equal([ContractEntry, ConsentEntry], granted.Select(o => o.Entry));
        Assert.Equal([ContractEntry], withdrawn.Select(o => o.Entry));
        var contact = granted[1];
        Assert.Equal("consent", contact.LegalBasis);
        Assert.Equal("after-sales-service", contact.Purpose);
        Assert.StartsWith("app/", contact.Topic, StringComparison.Ordinal);
        Assert.EndsWith($"/owner-contact/{device}", contact.Topic, StringComparison.Ordinal);
        Assert.All(ownerContact, value => Assert.True(CanaryScanner.Contains(contact.Payload, value), $"{id}: an owner contact field is missing from the consent entry's output"));
        // Only the device and the owner's contact: not the installer's contact (which may equal the owner's), Wi-Fi or position.
        using (var output = JsonDocument.Parse(contact.Payload))
        {
            Assert.Equal(["device", "owner"], output.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(["name", "email", "phone", "address"], output.RootElement.GetProperty("owner").EnumerateObject().Select(p => p.Name));
        }
        foreach (var output in before.Concat(granted).Concat(withdrawn).Where(o => o.Entry == ContractEntry))
        {
            using var json = JsonDocument.Parse(output.Payload);
            Assert.False(json.RootElement.TryGetProperty("owner", out _), $"{id}: the contract entry's output has an owner object");
            Assert.Equal(output.Topic, before[0].Topic);
        }
        var neverOwner = message.Canaries.Where(c => c.IsNever && !ownerContact.Contains(c.Value)).ToList();
        Assert.NotEmpty(neverOwner);
        foreach (var output in before.Concat(granted).Concat(withdrawn))
        {
            foreach (var canary in neverOwner)
            {
                Assert.False(CanaryScanner.Contains(output.Payload, canary.Value) || CanaryScanner.Contains(Encoding.UTF8.GetBytes(output.Topic), canary.Value),
                    $"{id}: a never-canary reached the {output.Entry} output");
            }
        }
        foreach (var output in before.Concat(withdrawn))
        {
            Assert.DoesNotContain(ownerContact, value => CanaryScanner.Contains(output.Payload, value));
        }
        var consentEntry = policy.Streams.Single(s => s.Name == "commissioning").Purposes.Single(p => p.Name == ConsentEntry);
        Assert.Equal(1, consentEntry.Counters[ProcessingAction.Forwarded]);
        Assert.Equal(2, consentEntry.Counters[ProcessingAction.NoConsent]);
    }

    [Fact]
    public void With_the_learned_values_step_the_consent_entry_keeps_the_owner_contact_and_every_other_output_still_loses_it()
    {
        var message = Commissioning()[0];
        var device = message.Topic[(message.Topic.LastIndexOf('/') + 1)..];
        var ownerContact = OwnerContact(message.Payload);
        var policy = PolicyCompiler.CompileFile(TestPolicies.DefaultPolicyPath);
        var choices = new Choices(device);
        choices.Record(ChoiceAction.Grant);
        var learned = new Core.Learning.LearnedSecrets();
        using var minimizer = new Minimizer(policy, TestPolicies.Key,
            [new ConsentGate(new RecordedConsent(choices)), new ObjectionGate(choices), new RestrictionGate(choices)], learned);

        var outputs = Run(minimizer, message, Segmentation.SingleSegment);
        Assert.True(learned.Count >= ownerContact.Count, "the record's contact values were learned");
        Assert.Equal([ContractEntry, ConsentEntry], outputs.Select(o => o.Entry));
        Assert.All(ownerContact, value => Assert.True(CanaryScanner.Contains(outputs[1].Payload, value), $"{message.Id}: an owner contact field was scrubbed from the consent entry's output"));
        foreach (var canary in message.Canaries.Where(c => c.IsNever && !ownerContact.Contains(c.Value)))
        {
            Assert.False(CanaryScanner.Contains(outputs[1].Payload, canary.Value), $"{message.Id}: a never-canary reached the consent entry's output");
        }
        Assert.DoesNotContain(ownerContact, value => CanaryScanner.Contains(outputs[0].Payload, value));
        // Any output not on consent for them (no kept classes) still loses every one of them.
        var scrubbed = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.True(learned.Current.Scrub(outputs[1].Payload, scrubbed, jsonStrings: true) >= ownerContact.Count);
        Assert.DoesNotContain(ownerContact, value => CanaryScanner.Contains(scrubbed.WrittenSpan, value));
        var consentEntry = policy.Streams.Single(s => s.Name == "commissioning").Purposes.Single(p => p.Name == ConsentEntry);
        Assert.Equal(
            Core.Learning.ConsentedContact.Bit(Core.Learning.LearnedClass.Name) | Core.Learning.ConsentedContact.Bit(Core.Learning.LearnedClass.Email)
            | Core.Learning.ConsentedContact.Bit(Core.Learning.LearnedClass.Phone) | Core.Learning.ConsentedContact.Bit(Core.Learning.LearnedClass.Address),
            consentEntry.ConsentedLearnedClasses);
        Assert.All(policy.Streams.SelectMany(s => s.Purposes).Where(p => p != consentEntry), p => Assert.Equal(0, p.ConsentedLearnedClasses));
    }

    private static List<CorpusMessage> Commissioning() =>
        [.. Support.Corpus.Messages.Where(m => m.Id.EndsWith("-commissioning", StringComparison.Ordinal))];

    private sealed record Output(string Entry, string Purpose, string LegalBasis, string Topic, byte[] Payload);

    private static List<Output> Run(Minimizer minimizer, CorpusMessage message, Segmentation segmentation)
    {
        var result = minimizer.Minimize(message.Topic, Segments.Split(message.Payload, segmentation));
        Assert.False(result.IsQuarantined, $"{message.Id} was quarantined as {result.QuarantineReason.Id()}");
        var outputs = new List<Output>();
        foreach (var output in result.Outputs.Span)
        {
            outputs.Add(new Output(output.Tags.Name, output.Tags.Purpose.Id(), output.Tags.LegalBasis.Id(),
                Encoding.UTF8.GetString(output.Topic.Span), output.Payload.ToArray()));
        }
        return outputs;
    }

    /// <summary>The owner's name, e-mail, phone and street as the record carries them.</summary>
    private static List<string> OwnerContact(byte[] payload)
    {
        using var json = JsonDocument.Parse(payload);
        var owner = json.RootElement.GetProperty("owner");
        return [owner.GetProperty("name").GetString()!, owner.GetProperty("email").GetString()!, owner.GetProperty("phone").GetString()!,
            owner.GetProperty("address").GetProperty("street").GetString()!];
    }

    private sealed class Choices(string device) : IChoicesSource
    {
        public ChoicesSnapshot Current { get; private set; } = ChoicesSnapshot.Empty;

        public void Record(ChoiceAction action)
        {
            var request = new ChoiceRequest(device, action, PurposeSet.Of([Purpose.AfterSalesService]), false, "2025-09-26", "test", ChoiceSource.Cli);
            Assert.Empty(ChoiceRequestRules.Validate(request));
            Current = Current.With(device, Current.Of(device).Apply(request));
        }
    }
}
