using System.Text;
using TelemetryGateway.Host.Configuration;
using TelemetryGateway.Mqtt.Security.Authentication;

namespace TelemetryGateway.Host.Cli;

/// <summary>
/// <c>users add NAME [--role ROLE] [--serial SERIAL] [--min-length N] [--file FILE]</c>: adds a user to the credentials
/// file (or replaces its password and role). The password is never an argument (it would stay in the shell history and
/// the process list) and never echoed: typed twice at a terminal without echo, or read as the first line of redirected
/// standard input; it must be at least <see cref="DefaultMinimumPasswordLength"/> characters unless --min-length says
/// otherwise. <c>users list [--file FILE]</c> prints each user's name and role; <c>users remove NAME [--file FILE]</c>
/// removes one.
/// </summary>
internal static class UsersCommand
{
    /// <summary>Reads the password; <c>null</c> when none was given (or the two entries differ).</summary>
    public delegate string? PasswordSource(TextWriter error);

    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        Run(args, output, error, Console.IsInputRedirected ? _ => Console.In.ReadLine() : ReadFromTerminal);

    public const int DefaultMinimumPasswordLength = 12;

    public static int Run(string[] args, TextWriter output, TextWriter error, PasswordSource password)
    {
        switch (args)
        {
            case ["list", .. var listOptions]:
                return List(listOptions, output, error);
            case ["remove", var removed, .. var removeOptions] when !removed.StartsWith('-'):
                return Remove(removed, removeOptions, output, error);
            case ["add", var name, .. var rest] when !name.StartsWith('-'):
                return Add(name, rest, output, error, password);
            default:
                return Usage.Error(error, "expected: users add NAME [--role device|installer|cloud] [--serial SERIAL] [--min-length N] [--file FILE], users list [--file FILE] or users remove NAME [--file FILE]");
        }
    }

    private static int Add(string name, string[] rest, TextWriter output, TextWriter error, PasswordSource password)
    {
        string? roleText = "device", serial = null, file = null;
        var minimumLength = DefaultMinimumPasswordLength;
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
                case "--min-length" when int.TryParse(rest[i + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length) && length >= 1:
                    minimumLength = length;
                    break;
                case "--min-length": return Usage.Error(error, "--min-length must be a whole number of at least 1");
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
        file ??= DefaultFile;
        var secret = password(error);
        if (string.IsNullOrEmpty(secret))
        {
            error.WriteLine("telemetry-gateway: no password given (or the two entries differ); nothing changed");
            return Usage.Failure;
        }
        if (secret.Length < minimumLength)
        {
            error.WriteLine($"telemetry-gateway: the password must be at least {minimumLength} characters (--min-length changes this); nothing changed");
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

    private static string DefaultFile => Path.Combine(GatewayOptions.DefaultDataDirectory, "users.json");

    private static int List(string[] options, TextWriter output, TextWriter error)
    {
        if (FileOption(options, error) is not { } file)
        {
            return Usage.UsageError;
        }
        try
        {
            foreach (var (name, role, serial) in CredentialsFile.ListUsers(file))
            {
                output.WriteLine(serial is null ? $"{name}\t{role}" : $"{name}\t{role}\tserial {serial}");
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"telemetry-gateway: {e.Message}");
            return Usage.Failure;
        }
        return Usage.Success;
    }

    private static int Remove(string name, string[] options, TextWriter output, TextWriter error)
    {
        if (FileOption(options, error) is not { } file)
        {
            return Usage.UsageError;
        }
        try
        {
            if (!CredentialsFile.RemoveUser(file, name))
            {
                error.WriteLine($"telemetry-gateway: {file} has no such user; nothing changed");
                return Usage.Failure;
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"telemetry-gateway: {e.Message}");
            return Usage.Failure;
        }
        output.WriteLine($"{file}: user removed; a running gateway refuses it from its next connection");
        return Usage.Success;
    }

    // [--file FILE] and nothing else; null (after a usage message) for anything else.
    private static string? FileOption(string[] options, TextWriter error)
    {
        switch (options)
        {
            case []:
                return DefaultFile;
            case ["--file", var file]:
                return file;
            default:
                Usage.Error(error, $"unexpected {string.Join(' ', options)}");
                return null;
        }
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
