using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TelemetryGateway.Core.Tests.Support;

/// <summary>
/// Looks for a planted value in bytes that would reach the cloud, in every form the corpus rules name:
/// raw, JSON-escaped, inside unescaped JSON strings, base64, hex, in any letter case.
/// </summary>
public static class CanaryScanner
{
    /// <summary>True if <paramref name="canary"/> appears in <paramref name="output"/> in any of the forms.</summary>
    public static bool Contains(ReadOnlySpan<byte> output, string canary)
    {
        var text = Encoding.UTF8.GetString(output);
        foreach (var form in Forms(canary))
        {
            if (text.Contains(form, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        // Unescaped JSON strings: decode every string of the output and look inside.
        foreach (var value in JsonStrings(output))
        {
            if (value.Contains(canary, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
            if (TryBase64(value, out var decoded) && Contains(decoded, canary))
            {
                return true;
            }
            // JSON carried as a string (the SOLIX payload): scanned as JSON in turn, down to its base64 binary.
            if (value.Length > 1 && value[0] is '{' or '[' && Contains(Encoding.UTF8.GetBytes(value), canary))
            {
                return true;
            }
        }
        return false;
    }

    private static IEnumerable<string> Forms(string canary)
    {
        var utf8 = Encoding.UTF8.GetBytes(canary);
        yield return canary;
        yield return JsonEncodedText.Encode(canary, JavaScriptEncoder.Default).Value;
        yield return JsonEncodedText.Encode(canary, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;
        yield return Convert.ToHexString(utf8);
        // Base64 of the value at each of the three alignments it can have inside a longer base64 text.
        for (var shift = 0; shift < 3; shift++)
        {
            var padded = new byte[shift + utf8.Length];
            utf8.CopyTo(padded, shift);
            var encoded = Convert.ToBase64String(padded);
            var skip = shift == 0 ? 0 : ((shift * 4) + 2) / 3 + 1;
            var stable = encoded[skip..].TrimEnd('=');
            // Drop the last, partially determined character.
            if (stable.Length > 4)
            {
                yield return stable[..^1];
            }
        }
    }

    private static List<string> JsonStrings(ReadOnlySpan<byte> output)
    {
        var strings = new List<string>();
        try
        {
            var reader = new Utf8JsonReader(output, new JsonReaderOptions { AllowMultipleValues = true });
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
                {
                    strings.Add(reader.GetString()!);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the raw forms above already covered it.
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 inside a string: the raw forms above already covered it.
        }
        return strings;
    }

    private static bool TryBase64(string value, out byte[] decoded)
    {
        decoded = [];
        if (value.Length < 8 || value.Length % 4 != 0)
        {
            return false;
        }
        var buffer = new byte[value.Length];
        if (!Convert.TryFromBase64String(value, buffer, out var written))
        {
            return false;
        }
        decoded = buffer[..written];
        return true;
    }
}
