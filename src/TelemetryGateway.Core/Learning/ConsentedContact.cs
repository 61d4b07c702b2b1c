using TelemetryGateway.Core.Policy;
using TelemetryGateway.Core.Vocabulary;

namespace TelemetryGateway.Core.Learning;

/// <summary>
/// The classes of learned values a purpose entry on consent may send because its own rules keep them by name: an
/// entry such as the shipped <c>after-sales-owner-contact</c> keeps the owner's name, e-mail, phone and street, which
/// the learned-values step would otherwise replace with markers in its output (it learned them from the same record).
/// Only for entries whose legal basis is consent (the data subject chose to share them, notice §5.3) and only the
/// contact classes (name, e-mail, phone, address): Wi-Fi names and secrets and MAC addresses stay scrubbed from every
/// output whatever an entry keeps. A bit per <see cref="LearnedClass"/>; 0 for every other entry.
/// </summary>
internal static class ConsentedContact
{
    public static int ClassesKeptBy(LegalBasis legalBasis, FieldSet? fields) =>
        legalBasis == LegalBasis.Consent && fields is not null ? Walk(fields, inContact: false, inWifi: false, depth: 0) : 0;

    private static int Walk(FieldSet fields, bool inContact, bool inWifi, int depth)
    {
        var classes = 0;
        foreach (var rule in fields.Rules)
        {
            var name = rule.NameUtf8;
            var kind = ValueNames.Classify(name, inContact, inWifi, out var opensContact, out var opensWifi);
            if (rule.Fields is not null)
            {
                // Bounded by the policy's own nesting (its depth limit); an object under a Wi-Fi name is never contact data.
                if (depth < 64 && !opensWifi && !inWifi)
                {
                    classes |= Walk(rule.Fields, inContact || opensContact, inWifi, depth + 1);
                }
                continue;
            }
            if (rule.Transform != TransformKind.Keep || inWifi)
            {
                continue;
            }
            classes |= kind switch
            {
                ValueName.PersonName => Bit(LearnedClass.Name),
                ValueName.Phone => Bit(LearnedClass.Phone),
                ValueName.Street => Bit(LearnedClass.Address),
                _ when inContact && IsEmailName(rule.Name) => Bit(LearnedClass.Email),
                _ => 0,
            };
        }
        return classes;
    }

    private static bool IsEmailName(string name) =>
        name.Equals("email", StringComparison.OrdinalIgnoreCase) || name.Equals("e-mail", StringComparison.OrdinalIgnoreCase)
        || name.Equals("e_mail", StringComparison.OrdinalIgnoreCase) || name.Equals("mail", StringComparison.OrdinalIgnoreCase);

    public static int Bit(LearnedClass kind) => 1 << (int)kind;
}
