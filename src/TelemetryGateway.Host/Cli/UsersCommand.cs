using System.Text;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>users add NAME [--role ROLE] [--serial SERIAL] [--file FILE]</c>: adds a user to the credentials file (or replaces
/// its password and role). The password is never an argument (it would stay in the shell history and the process list)
/// and never echoed: typed twice at a terminal without echo, or read as the first line of redirected standard input.
/// </summary>
internal static class UsersCommand
{
    /// <summary>Reads the password; <c>null</c> when none was given (or the two entries differ).</summary>
    public delegate string? PasswordSource(TextWriter error);

    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        Run(args, output, error, Console.IsInputRedirected ? _ => Console.In.ReadLine() : ReadFromTerminal);

    public static int Run(string[] args, TextWriter output, TextWriter error, PasswordSource password)
    {
        if (args is not ["add", var name, .. var rest] || name.StartsWith('-'))
        {
            return Usage.Error(error, "expected: users add NAME [--role device|installer|cloud] [--serial SERIAL] [--file FILE]");
        }
        string? roleText = "device", serial = null, file = null;
        for (var i = 0; i < rest.Length; i += 2)
        {
            if (i + 1 >= rest.Length)
            {
                return Usage.Error(error, $"{rest[i]} needs a value");
            }
            switch (rest[i])
            {
                case "--role": roleText = rest[i + 1]; break;
                case "--serial": serial = rest[i + 1]; break;
                case "--file": file = rest[i + 1]; break;
                default: return Usage.Error(error, $"unknown option {rest[i]}");
            }
        }
        if (!CredentialsFile.TryParseRole(roleText, out var role))
        {
            return Usage.Error(error, "--role must be device, installer or cloud");
        }
        if (serial is not null && role != IdentityRole.Device)
        {
            return Usage.Error(error, "--serial applies to the device role only");
        }
        file ??= Path.Combine(GatewayOptions.DefaultDataDirectory, "users.json");
        var secret = password(error);
        if (string.IsNullOrEmpty(secret))
        {
            error.WriteLine("telemetry-gateway: no password given (or the two entries differ); nothing changed");
            return Usage.Failure;
        }
        try
        {
            CredentialsFile.AddUser(file, name, role, serial, secret);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"telemetry-gateway: {e.Message}");
            return Usage.Failure;
        }
        // Neither the name (often a serial number) nor the password is printed: output may end up in logs.
        output.WriteLine($"{file}: user saved ({roleText}); a running gateway picks it up at the next connection");
        return Usage.Success;
    }

    private static string? ReadFromTerminal(TextWriter error)
    {
        var first = ReadHidden(error, "Password: ");
        var second = ReadHidden(error, "Again: ");
        return first == second ? first : null;
    }

    private static string ReadHidden(TextWriter error, string prompt)
    {
        error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
                continue;
            }
            if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
        error.WriteLine();
        return text.ToString();
    }
}
