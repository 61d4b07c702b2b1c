using System.Collections;
using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace TelemetryGateway.Host.Configuration;

/// <summary>
/// Checks the shape of the <c>Gateway</c> section before it is bound: every key names a setting of the options
/// records (a typo such as <c>Tranport</c> is an error, not a silently ignored key), and every value converts to its
/// setting's type (<c>Port=abc</c> or <c>ReconnectMaxDelay=5s</c> is an error listing the key and what it expects,
/// instead of the binder's exception). All errors are returned at once. A section bound elsewhere registers its type
/// in <see cref="Sections"/>.
/// </summary>
internal static class ConfigurationShape
{
    /// <summary>Sections under <c>Gateway</c> that are not properties of <see cref="GatewayOptions"/>, with the type they bind to.</summary>
    public static IReadOnlyDictionary<string, Type> Sections { get; } = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase)
    {
        ["Http"] = typeof(Http.HttpIngressOptions),
    };

    public static IReadOnlyList<string> Check(IConfigurationSection gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        var errors = new List<string>();
        CheckObject(gateway, typeof(GatewayOptions), errors, Sections);
        return errors;
    }

    private static void CheckObject(IConfigurationSection section, Type type, List<string> errors, IReadOnlyDictionary<string, Type>? extra = null)
    {
        var settings = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true })
            .ToDictionary(p => p.Name, p => p.PropertyType, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (settings.TryGetValue(child.Key, out var settingType) || (extra is not null && extra.TryGetValue(child.Key, out settingType)))
            {
                CheckValue(child, settingType, errors);
            }
            else
            {
                errors.Add($"{child.Path}: unknown setting (known under {section.Path}: {string.Join(", ", settings.Keys.Concat(extra?.Keys ?? []).Order(StringComparer.Ordinal))})");
            }
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, List<string> errors)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(target))
        {
            if (section.Value is null)
            {
                if (section.GetChildren().Any())
                {
                    errors.Add($"{section.Path}: must be a single value ({Expected(target)}), not a section");
                }
                return;
            }
            if (target == typeof(string) || (section.Value.Length == 0 && type != target))
            {
                return;
            }
            try
            {
                _ = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(section.Value);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException || e.InnerException is FormatException or OverflowException)
            {
                // The value is shown: settings of these types are numbers, switches, durations and addresses, never secrets.
                errors.Add($"{section.Path}: '{section.Value}' is not {Expected(target)}");
            }
            return;
        }
        if (DictionaryValueType(target) is { } valueType)
        {
            foreach (var child in section.GetChildren())
            {
                CheckValue(child, valueType, errors);
            }
            return;
        }
        if (ElementType(target) is { } elementType)
        {
            foreach (var child in section.GetChildren())
            {
                CheckValue(child, elementType, errors);
            }
            return;
        }
        if (section.Value is not null && !section.GetChildren().Any())
        {
            errors.Add($"{section.Path}: is a section of settings, not a single value");
            return;
        }
        CheckObject(section, target, errors);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid);

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>))
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary?.GetGenericArguments()[1];
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }
        if (!typeof(IEnumerable).IsAssignableFrom(type) && !(type.IsInterface && type.IsGenericType))
        {
            return null;
        }
        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }

    private static string Expected(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(uint) || type == typeof(ushort) || type == typeof(short) => "a whole number",
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
        _ when type == typeof(TimeSpan) => "a duration such as 00:00:05 (hh:mm:ss) or 1.00:00:00 (one day)",
        _ when type == typeof(Uri) => "a URL",
        _ when type.IsEnum => $"one of {string.Join(", ", Enum.GetNames(type))}",
        _ => $"a {type.Name}",
    };
}
