using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TelemetryGateway.Core.Tests.Support;

namespace TelemetryGateway.Core.Tests.Properties;

/// <summary>
/// Property-based: a valid corpus message with secrets planted where the shipped policy does not keep values (under keys
/// it does not name, at any nesting, as values or as key names, in arrays; and in place of the values its canaries mark
/// as never-forwarded, with any shape) never lets a secret through. Secrets are the corpus's never canaries and random
/// passphrases, email addresses and MAC addresses. Every case also picks how the payload is segmented.
/// </summary>
public sealed class PlantedSecretProperties
{
    private static readonly CorpusMessage[] s_messages = Support.Corpus.Messages
        .Where(m => !m.IsBad && m.ContentType == "application/json" && m.Canaries.Any(c => c.IsNever))
        .ToArray();

    private static readonly string[] s_neverCanaries = s_messages.SelectMany(m => m.Canaries).Where(c => c.IsNever).Select(c => c.Value).Distinct().ToArray();

    /// <summary>Where a secret goes: under a new key of an object, or in place of a value a canary marks.</summary>
    public enum Place
    {
        NewKey,
        NeverSlot,
    }

    /// <summary>How the secret is wrapped: as it is, inside a longer string, as a key name, inside arrays and objects.</summary>
    public sealed record Planting(Place Place, int Target, string Secret, int Wrapping, int Depth, string Key)
    {
        public override string ToString() => $"{Place} #{Target} wrapping {Wrapping} depth {Depth} key '{Key}' secret '{Secret}'";
    }

    public sealed record Case(int Message, Segmentation Segmentation, Planting[] Plantings)
    {
        public override string ToString() => $"{s_messages[Message].Id} {Segmentation}: {string.Join("; ", Plantings.Select(p => p.ToString()))}";
    }

    private static Gen<string> Passphrase =>
        Gen.Elements("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!$%&*-_=+".ToCharArray())
            .ArrayOf().Where(a => a.Length >= 12 && a.Length <= 32).Select(a => new string(a));

    private static Gen<string> Email =>
        from user in Gen.Elements("abcdefghijklmnopqrstuvwxyz0123456789.".ToCharArray()).ArrayOf().Where(a => a.Length is >= 3 and <= 12)
        from domain in Gen.Elements("abcdefghijklmnopqrstuvwxyz".ToCharArray()).ArrayOf().Where(a => a.Length is >= 3 and <= 10)
        from tld in Gen.Elements("de", "com", "eu", "org")
        select $"z{new string(user)}@{new string(domain)}.{tld}";

    private static Gen<string> Mac =>
        from bytes in Gen.Choose(0, 255).ArrayOf(6)
        from separator in Gen.Elements(":", "-")
        select string.Join(separator, bytes.Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    private static Gen<string> Secret => Gen.OneOf(Gen.Elements(s_neverCanaries), Passphrase, Email, Mac);

    // Key names the policy never names: fields not named are dropped.
    private static Gen<string> UnknownKey =>
        Gen.Elements("x_debug", "owner_note", "wifi_password_backup", "extra", "meta", "ssid_list", "contact", "_raw", "zz");

    private static Gen<Planting> Plantings =>
        from place in Gen.Elements(Place.NewKey, Place.NeverSlot)
        from target in Gen.Choose(0, 1000)
        from secret in Secret
        from wrapping in Gen.Choose(0, 4)
        from depth in Gen.Choose(0, 6)
        from key in UnknownKey
        select new Planting(place, target, secret, wrapping, depth, key);

    public static Arbitrary<Case> Cases() => Arb.From(
        from message in Gen.Choose(0, s_messages.Length - 1)
        from segmentation in Gen.Elements(Enum.GetValues<Segmentation>())
        from count in Gen.Choose(1, 4)
        from plantings in Plantings.ArrayOf(count)
        select new Case(message, segmentation, plantings));

    [Property(MaxTest = 300, Arbitrary = [typeof(PlantedSecretProperties)])]
    public bool Planted_secrets_never_survive_minimization(Case @case)
    {
        var message = s_messages[@case.Message];
        var root = JsonNode.Parse(message.Payload)!.AsObject();
        foreach (var planting in @case.Plantings)
        {
            Plant(root, message, planting);
        }
        var payload = Encoding.UTF8.GetBytes(root.ToJsonString());
        var (result, outputs) = MinimizerRun.Run(TestPolicies.Default, message.Topic, payload, @case.Segmentation);
        if (result.IsQuarantined)
        {
            // Deep plantings may pass the policy's depth limit: nothing is forwarded, which keeps the property.
            return outputs.Count == 0;
        }
        foreach (var output in outputs)
        {
            var bytes = Encoding.UTF8.GetBytes(output.Payload);
            var topic = Encoding.UTF8.GetBytes(output.Topic);
            foreach (var planting in @case.Plantings)
            {
                if (CanaryScanner.Contains(bytes, planting.Secret) || CanaryScanner.Contains(topic, planting.Secret))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static void Plant(JsonObject root, CorpusMessage message, Planting planting)
    {
        var value = Wrap(planting);
        if (planting.Place == Place.NeverSlot)
        {
            var slots = NeverSlots(root, message).ToList();
            if (slots.Count > 0)
            {
                var (parent, key) = slots[planting.Target % slots.Count];
                parent[key] = value;
                return;
            }
        }
        // A new key in the root or in any object that itself holds a never-forwarded value (network, location, ...).
        var objects = new List<JsonObject> { root };
        objects.AddRange(NeverSlots(root, message).Select(s => s.Parent).Distinct());
        var target = objects[planting.Target % objects.Count];
        var name = planting.Key;
        while (target.ContainsKey(name))
        {
            name += "_";
        }
        target[name] = value;
    }

    /// <summary>The secret in the shape the planting asks for, nested <c>Depth</c> levels in objects and arrays.</summary>
    private static JsonNode Wrap(Planting planting)
    {
        JsonNode node = planting.Wrapping switch
        {
            0 => JsonValue.Create(planting.Secret),
            1 => JsonValue.Create($"note: {planting.Secret} (copied)"),
            2 => new JsonObject { [planting.Secret] = 1 },
            3 => new JsonArray(JsonValue.Create(1), JsonValue.Create(planting.Secret), JsonValue.Create(true)),
            _ => new JsonObject { ["value"] = planting.Secret, ["kind"] = "secret" },
        };
        for (var level = 0; level < planting.Depth; level++)
        {
            node = level % 2 == 0 ? new JsonObject { ["inner"] = node } : new JsonArray(node);
        }
        return node;
    }

    /// <summary>Every (object, key) whose value holds one of the message's never canaries.</summary>
    private static IEnumerable<(JsonObject Parent, string Key)> NeverSlots(JsonNode node, CorpusMessage message)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, child) in obj.ToList())
            {
                if (child is JsonValue && message.Canaries.Any(c => c.IsNever && child.ToJsonString().Contains(c.Value, StringComparison.OrdinalIgnoreCase)))
                {
                    yield return (obj, key);
                }
                else if (child is not null)
                {
                    foreach (var slot in NeverSlots(child, message))
                    {
                        yield return slot;
                    }
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var child in array.ToList())
            {
                if (child is not null)
                {
                    foreach (var slot in NeverSlots(child, message))
                    {
                        yield return slot;
                    }
                }
            }
        }
    }
}
